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
import { poisonBodies, sendBodies } from '../test/harness/poison';
import { waitForFinal, withBenchStack } from './harness';
import { percentile, round } from './stats';

const FLOOD = 200;

export function poisonFlood(fires = 5): Promise<Record<string, unknown>> {
  return withBenchStack(
    { name: 'poison', plane: { workerCacheMs: 0 } },
    async ({ plane, agent: startAgent, emulator, clients }) => {
      let onStart: ((at: number) => void) | undefined;
      const agent = await startAgent({
        workerId: 'bench-poison',
        capacity: 2,
        handlers: { 'bench.poison': async () => onStart?.(performance.now()) },
      });
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
        await waitForFinal(plane, run.runId, { pollMs: 5 });
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
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await poisonFlood(Number(process.argv[2] ?? 5)), null, 2));
}
