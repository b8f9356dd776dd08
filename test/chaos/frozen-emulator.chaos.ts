/**
 * Chaos: the emulator frozen and resumed, again and again. moto_server gets SIGSTOP for a seeded 10-30 s
 * in each of several cycles — it accepts connections and answers nothing, the way a brown-out looks —
 * then SIGCONT. (A restart is not possible: moto keeps its state only in memory, so "restarted" here
 * is "resumed"; outage.test.ts covers refused connections through a proxy.) In each cycle:
 *
 * - a seeded batch of runs is executing on two real agents, waiting on a gate; the gate opens inside
 *   the freeze, so their outcomes cannot be written and go to the agents' journals, to be replayed
 *   after the thaw (a write that timed out on the client but landed after SIGCONT meets its own
 *   retry: the fence decides);
 * - more fires arrive during the freeze (EventBridge keeps invoking the dispatcher); those that fail
 *   are invoked again after the thaw with the same scheduled instant, as EventBridge retries do —
 *   some of them did land, and the retry must find the run, not make a second one;
 * - the in-process monitor keeps sweeping (its sweeps fail while frozen, then recover).
 */
import { rm, writeFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FireOutcome } from '../../core/dispatch';
import { fireRunId, isoSeconds } from '../../core/model';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { waitFor } from '../harness/wait';
import { chaosAgentConfig, chaosJob, chaosStage, report, settled, startChaosAgents, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'frozen-emulator';
const CYCLES = 3;
let frozen: number | undefined;
const thaw = () => {
  if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
  frozen = undefined;
};
after(thaw);

test('the emulator frozen (SIGSTOP) and resumed in cycles while runs finish and fires arrive: nothing lost, nothing twice', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  const motoPid = aws.emulator.pid;
  if (motoPid === undefined) throw new Error('this scenario freezes a moto_server it started itself');
  // Leases far longer than a freeze (plus the SDK's deadlines and a loaded machine's stalls).
  const config = chaosAgentConfig('frozen', { capacity: 10, leaseTtlSeconds: 90 });
  const fleet = await startChaosAgents(agents, ['f1', 'f2'], { aws, config, env: marks.env });
  const loop = monitorLoop(plane, 1000);
  await plane.jobService.define(
    chaosJob('frozen', 'frozen', {
      payload: { gate: marks.gate('cycle'), sleepMs: 50 },
      timeoutSeconds: 900,
    }),
  );

  const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
  let instant = 0;
  const runIds: string[] = [];
  let invocations = 0;
  /** One dispatcher invocation, as EventBridge makes it: a scheduled instant; throws when AWS does not answer. */
  const invoke = (scheduledTime: string): Promise<FireOutcome> => {
    invocations += 1;
    return plane.dispatcher.fire({ jobId: 'frozen', scheduledTime, trigger: 'SCHEDULE' });
  };
  /** Invokes until the dispatcher answers, as EventBridge retries (for up to 24 h there; 3 min here). */
  const fireUntilAnswered = async (scheduledTime: string, first?: Promise<FireOutcome>) => {
    const until = Date.now() + 180_000;
    let attempt = first ?? invoke(scheduledTime);
    for (;;) {
      try {
        return await attempt;
      } catch (error) {
        if (Date.now() > until) throw error;
        // The pause EventBridge leaves between retries of a failed invocation: part of the fault model.
        await sleep(500);
        attempt = invoke(scheduledTime);
      }
    }
  };
  const next = () => {
    const scheduledTime = isoSeconds(base + instant * 1000);
    instant += 1;
    runIds.push(fireRunId('frozen', scheduledTime));
    return scheduledTime;
  };

  for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
    const gate = marks.gate('cycle');
    const batch = Array.from({ length: chaos.int(3, 7) }, next);
    await Promise.all(batch.map((t) => fireUntilAnswered(t)));
    const ids = batch.map((t) => fireRunId('frozen', t));
    await waitFor(
      () => marks.started(),
      (started) => ids.every((id) => started.has(id)),
      `cycle ${cycle}: the batch executing`,
      { timeoutMs: 120_000 },
    );
    const freezeMs = chaos.int(10_000, 30_000);
    process.kill(motoPid, 'SIGSTOP');
    frozen = motoPid;
    await writeFile(gate, 'go'); // the batch's work ends inside the freeze
    const during = Array.from({ length: chaos.int(1, 4) }, next).map((t) => {
      const first = invoke(t);
      first.catch(() => {}); // handled by fireUntilAnswered after the thaw
      return { t, first };
    });
    await sleep(freezeMs); // the fault's length, not a wait for something to happen
    thaw();
    await Promise.all(during.map(({ t, first }) => fireUntilAnswered(t, first)));
    const journaled = fleet.reduce(
      (n, agent) => n + agent.lines().filter((l) => l.message === 'journaled outcome').length,
      0,
    );
    console.log(
      `chaos ${NAME}: cycle ${cycle}: froze moto ${freezeMs} ms with ${batch.length} runs finishing and ${during.length} fires arriving; ${journaled} outcomes journaled so far`,
    );
    await settled(plane, ids, 120_000);
    // Closed again: fires that arrived during the freeze and have not run yet finish in the next one.
    await rm(gate);
  }
  await writeFile(marks.gate('cycle'), 'go');

  const records = await settled(plane, runIds);
  await loop.stop();
  const counts = tally(invocations, records, await marks.read());
  const failing = loop.reports.filter((r) => r.errors.length > 0).length + loop.failures;
  console.log(`chaos ${NAME}: ${failing} monitor sweeps had failing steps during the freezes`);
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) await agent.waitForExit(90_000);
  report(NAME, counts);
});
