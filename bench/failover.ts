/**
 * Failover time with default settings (issue 6; ARCHITECTURE.md, "Budgets": failover is lease TTL
 * plus the sweep interval, a dead worker's run found within about 10 s; issue 26 keeps it there with
 * cheaper heartbeats).
 *
 * Two real `clover-agent` processes (test/harness/agent-process.ts) with the DEFAULT lease settings
 * (worker-agent/config.ts: heartbeat every 4 s, lease TTL 8 s) share a pool; the monitor Lambda's
 * handler (functions/monitor/handler.ts) runs in this process with its default loop while runs are in
 * flight (a sweep every 2 s), re-invoked as the one-minute rule would. Each trial fires a recoverable job whose handler sleeps
 * `handlerMs`, waits until an agent is RUNNING it, `kill -9`s that agent, and measures, from the kill:
 *
 * - redispatch: the run's second DISPATCHED (attempt 2), written by the sweep that found the lease expired;
 * - completion: the run SUCCEEDED on the other agent (includes the handler's own `handlerMs`).
 *
 * A replacement agent is started before the next trial. The kill lands at a random phase of the
 * heartbeat and sweep cycles, so expect redispatch between about TTL − heartbeat (4 s) and
 * TTL + loop (10 s), plus the sweep's own requests. A measurement, not a test: report, don't assert.
 *
 *   npx tsx bench/failover.ts [trials=3] [handlerMs=2000]
 */
import { silentLogger } from '../core/log';
import type { Run } from '../core/model';
import { Monitor } from '../core/monitor';
import { DEFAULT_MONITOR_LOOP_SECONDS, makeMonitorHandler } from '../functions/monitor/handler';
import type { EmulatorHandle } from '../test/harness';
import { type AgentProcess, startAgent, testHandlersConfig } from '../test/harness/agent-process';
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_LEASE_TTL_SECONDS } from '../worker-agent/config';
import { type BenchStack, withBenchStack } from './harness';

export interface FailoverTrial {
  readonly killToRedispatchS: number;
  readonly killToCompletionS: number;
  readonly attempt: number;
}

export interface FailoverFigures {
  readonly settings: Record<string, unknown>;
  readonly trials: readonly FailoverTrial[];
  readonly redispatchS: { readonly min: number; readonly median: number; readonly max: number };
  readonly completionS: { readonly min: number; readonly median: number; readonly max: number };
  readonly targetCompletionS: 15;
  /** Kill to re-dispatch: the dead worker's run found and sent on (ARCHITECTURE.md, Budgets). */
  readonly targetRedispatchS: 10;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

function summary(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? Number.NaN,
    median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Kill -9 → re-dispatch → completion on the other agent, `trials` times, with default agent and monitor settings. */
export function failover(trials = 3, handlerMs = 2000): Promise<FailoverFigures> {
  return withBenchStack({ name: 'failover' }, (stack) => failoverOn(stack, trials, handlerMs));
}

async function failoverOn(
  { plane, prefix, emulator }: BenchStack,
  trials: number,
  handlerMs: number,
): Promise<FailoverFigures> {
  const aws = { prefix, emulator } as EmulatorHandle;
  const monitor = new Monitor({ ...plane, deadLetters: plane.fireDeadLetters });
  const agents: AgentProcess[] = [];
  let active = true;
  let wake: (() => void) | undefined;
  // The monitor Lambda's handler with its defaults (CLOVER_MONITOR_LOOP_SECONDS=2, 55 s a run),
  // invoked again as soon as a run ends, as the every-minute rule does (give or take its gap).
  const invoke = makeMonitorHandler({
    monitor,
    log: silentLogger,
    loopSeconds: DEFAULT_MONITOR_LOOP_SECONDS,
    runSeconds: 55,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, active ? ms : 0);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    now: () => (active ? Date.now() : Number.POSITIVE_INFINITY),
  });
  let loop: Promise<void> | undefined;
  const pool = 'failover';
  const config = `pool: ${pool}\n${testHandlersConfig(['work'])}`;
  let next = 0;
  const spawn = async () => {
    next += 1;
    const agent = await startAgent({ aws, workerId: `bench-failover-${next}`, config });
    agents.push(agent);
    await agent.waitForLog(/agent started/, 30_000);
    return agent;
  };

  try {
    await plane.jobService.define({
      jobId: 'failover',
      handler: 'work',
      payload: { sleepMs: handlerMs },
      target: { pool },
      recoverOnWorkerLoss: true,
    });
    const live = new Set(await Promise.all([spawn(), spawn()]));
    loop = (async () => {
      // A failed invocation (a step failed) is followed by the next one, as the every-minute rule does.
      while (active) await invoke().catch(() => undefined);
    })();

    const results: FailoverTrial[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const fired = await plane.dispatcher.fire({ jobId: 'failover', trigger: 'MANUAL' });
      if (fired.kind !== 'dispatched') throw new Error(`fire ${trial + 1}: ${fired.kind}`);
      const runId = fired.runs[0]!.runId;
      const get = async () => (await plane.runs.get(runId)) as Run;
      const running = await waitFor('attempt 1 RUNNING', 30_000, async () => {
        const run = await get();
        return run.status === 'RUNNING' ? run : undefined;
      });
      const victim = [...live].find((a) => a.workerId === running.workerId);
      if (!victim) throw new Error(`run ${runId} is RUNNING on ${running.workerId}, not one of the agents`);
      const killedAt = Date.now();
      await victim.kill();
      live.delete(victim);
      const done = await waitFor('completion on the other agent', 60_000, async () => {
        const run = await get();
        return ['SUCCEEDED', 'FAILED', 'LOST', 'TIMED_OUT'].includes(run.status) ? run : undefined;
      });
      if (done.status !== 'SUCCEEDED') throw new Error(`run ${runId} ended ${done.status}`);
      const redispatch = done.history.find((h) => h.status === 'DISPATCHED' && h.attempt === 2);
      results.push({
        killToRedispatchS: seconds((redispatch?.at ?? Number.NaN) - killedAt),
        killToCompletionS: seconds((done.finishedAt ?? Number.NaN) - killedAt),
        attempt: done.attempt,
      });
      if (trial + 1 < trials) live.add(await spawn());
    }
    return {
      settings: {
        heartbeatIntervalSeconds: DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
        leaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
        monitorLoopSeconds: DEFAULT_MONITOR_LOOP_SECONDS,
        handlerSeconds: handlerMs / 1000,
        emulator: emulator.kind,
      },
      trials: results,
      redispatchS: summary(results.map((r) => r.killToRedispatchS)),
      completionS: summary(results.map((r) => r.killToCompletionS)),
      targetCompletionS: 15,
      targetRedispatchS: 10,
    };
  } finally {
    active = false;
    wake?.();
    await loop?.catch(() => undefined);
    await Promise.all(agents.map((agent) => agent.kill()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const trials = Number(process.argv[2] ?? 3);
  const handlerMs = Number(process.argv[3] ?? 2000);
  console.log(JSON.stringify(await failover(trials, handlerMs), null, 2));
}
