/**
 * Fire-to-start with and without a poison flood (issue 10): a real dispatcher and an in-process agent
 * (worker-agent/agent.ts, capacity 2) on the emulator. Quiet: a manual fire of a job pinned to the
 * agent, timed from `dispatcher.fire` to the handler being invoked. Flood: the same, right after 200
 * malformed messages (test/harness/poison.ts) were put on the agent's own queue, so the real envelope
 * waits behind them; the agent moves each to the dead-letter queue on its first receipt.
 * The figure to compare is the flood's fire-to-start against the quiet one, within one run.
 *
 *   npx tsx bench/poison-flood.ts [fires=5]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsClients } from '../core/adapters/aws-clients';
import { controlPlane } from '../core/adapters/control-plane';
import { provision, teardown } from '../core/adapters/provision';
import { jsonLogger, silentLogger } from '../core/log';
import { isFinal } from '../core/model';
import { startEmulator } from '../infra/local/emulator';
import { poisonBodies, sendBodies } from '../test/harness/poison';
import { Agent, sqsAgentDeps } from '../worker-agent/agent';
import { parseAgentConfig } from '../worker-agent/config';
import { percentile } from './stats';

const FLOOD = 200;

export async function poisonFlood(fires = 5): Promise<Record<string, unknown>> {
  const emulator = await startEmulator();
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const prefix = `bench-poison-${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'clover-bench-poison-'));
  const plane = controlPlane({ clients, prefix, workerCacheMs: 0 });
  let onStart: ((at: number) => void) | undefined;
  let agent: Agent | undefined;
  try {
    await provision(clients, prefix);
    const config = parseAgentConfig(
      ['workerId: bench-poison', 'pool: bench', 'capacity: 2', `journalDir: ${join(dir, 'journal')}`].join(
        '\n',
      ),
      { env: {} },
    );
    agent = new Agent({
      config,
      deps: sqsAgentDeps({ clients, prefix }),
      logger: process.env.BENCH_LOG ? jsonLogger() : silentLogger,
    });
    agent.handle('bench.poison', async () => onStart?.(performance.now()));
    await agent.start();
    const queueUrl = agent.lease?.endpoints.queueUrl ?? '';
    await plane.jobService.define({
      jobId: 'bench-poison',
      handler: 'bench.poison',
      target: { pool: 'bench', workerIds: ['bench-poison'] },
      routing: 'FIRST',
      concurrency: { policy: 'ALLOW' },
    });
    const fire = async (flood: boolean): Promise<number> => {
      if (flood) await sendBodies(clients.sqs, queueUrl, poisonBodies(FLOOD));
      const started = new Promise<number>((resolve) => {
        onStart = resolve;
      });
      const start = performance.now();
      const outcome = await plane.dispatcher.fire({ jobId: 'bench-poison', trigger: 'MANUAL' });
      const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
      if (!run) throw new Error(`the fire was ${outcome.kind}`);
      const ms = (await started) - start;
      for (let i = 0; ; i += 1) {
        const current = await plane.runs.get(run.runId);
        if (current && isFinal(current)) break;
        if (i > 1000) throw new Error(`run ${run.runId} did not finish`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return ms;
    };
    await fire(false);
    const quiet: number[] = [];
    const flooded: number[] = [];
    for (let i = 0; i < fires; i += 1) {
      quiet.push(await fire(false));
      flooded.push(await fire(true));
    }
    const figures = (ms: number[]) => ({ p50: round(percentile(ms, 50)), max: round(Math.max(...ms)) });
    return {
      fires,
      emulator: emulator.kind,
      floodSize: FLOOD,
      agentCapacity: 2,
      fireToStartMs: { quiet: figures(quiet), behind200Malformed: figures(flooded) },
    };
  } finally {
    await agent?.close({ force: true }).catch(() => undefined);
    await plane.close();
    await teardown(clients, prefix).catch(() => undefined);
    clients.destroy();
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await poisonFlood(Number(process.argv[2] ?? 5)), null, 2));
}
