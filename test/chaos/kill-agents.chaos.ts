/**
 * Chaos: kill -9 of agents during runs, again and again. Three real agents run a recoverable job; in
 * each round a seeded number of fires start (each handler then waits on the round's gate file, so the
 * kill always lands mid-work, never between the work and its outcome), a seeded victim among the
 * agents holding runs is killed with SIGKILL, and restarted with the same worker id — at once, as
 * systemd's `Restart=on-failure` does after a couple of seconds, or only after its lease has expired.
 * The monitor (a sweep every second) must recover every run the victim held as a new attempt on a
 * live agent; then the gate opens and every fire must end SUCCEEDED with its work done exactly once
 * (the handler's own marker), whatever happened to its earlier attempts.
 */
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { waitFor } from '../harness/wait';
import { chaosAgentConfig, chaosJob, chaosStage, report, settled, tally, useSupervisor } from './chaos';

const aws = useEmulator();
const supervisor = useSupervisor();
const agents = useAgents();
const NAME = 'kill-agents';
const ROUNDS = 4;

test('kill -9 of agents mid-run, repeatedly, restarted at once or after their lease: every fire recovered and done once', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  // Short leases so a dead agent is noticed soon (TTL + a 1 s sweep); an agent that stalls past its
  // lease on a loaded machine exits 3 and is restarted like any other: its runs are recovered too, and
  // a fire that finds no live agent meanwhile is retried by the job's policy.
  const config = chaosAgentConfig('kill', {
    capacity: 6,
    leaseTtlSeconds: 12,
    extra: ['drainGraceSeconds: 2'],
  });
  const fleet = await Promise.all(
    ['k1', 'k2', 'k3'].map((workerId) => supervisor.start(agents, { aws, workerId, config, env: marks.env })),
  );
  await Promise.all(fleet.map((agent) => agent.current.waitForLog(/agent started/)));
  const loop = monitorLoop(plane, 1000);

  const fired: string[] = [];
  const get = async (runId: string) => (await plane.runs.get(runId)) as Run;
  for (let round = 1; round <= ROUNDS; round += 1) {
    const gate = marks.gate(`round-${round}`);
    const jobId = `kill-${round}`;
    await plane.jobService.define(
      chaosJob(jobId, 'kill', {
        payload: { gate, sleepMs: chaos.int(0, 300) },
        recoverOnWorkerLoss: true,
        retry: { maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 4 },
        timeoutSeconds: 900,
      }),
    );
    const runIds: string[] = [];
    const count = chaos.int(4, 9);
    for (let i = 0; i < count; i += 1) {
      const outcome = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
      if (outcome.kind === 'dispatched') runIds.push(outcome.runs[0]!.runId);
      else if (outcome.kind === 'no_worker')
        runIds.push(outcome.run.runId); // retried by policy
      else throw new Error(`fire ${i} of ${jobId}: ${JSON.stringify(outcome)}`);
    }
    fired.push(...runIds);
    // Every run of the round is executing (its handler waits on the gate).
    await waitFor(
      () => marks.started(),
      (started) => runIds.every((id) => started.has(id)),
      `round ${round}: every run started`,
      { timeoutMs: 120_000 },
    );
    const holding = await Promise.all(runIds.map(get));
    const owners = [...new Set(holding.map((run) => run.workerId))].filter((id) => id !== undefined);
    const victimId = chaos.pick(owners.sort());
    const victim = fleet.find((agent) => agent.workerId === victimId);
    if (!victim) throw new Error(`round ${round}: no victim among ${owners.join(', ')}`);
    const held = holding.filter((run) => run.workerId === victim.workerId && run.status === 'RUNNING');
    const restartAtOnce = chaos.random() < 0.5;
    console.log(
      `chaos ${NAME}: round ${round}: ${runIds.length} runs; kill -9 ${victim.workerId} holding ${held.length}, restarted ${restartAtOnce ? 'at once' : 'after its lease expired'}`,
    );
    await victim.kill9({ restart: restartAtOnce });
    if (!restartAtOnce) {
      await waitFor(
        () => plane.workers.get(victim.workerId),
        (lease) => lease?.status === 'GONE',
        `${victim.workerId}'s lease marked GONE by the monitor`,
        { timeoutMs: 120_000 },
      );
      await victim.restart();
    }
    // The monitor recovers what the victim held: each run starts a later attempt elsewhere (or on
    // the restarted victim). Bounded: a run never recovered shows as lost in the tally.
    await waitFor(
      async () => {
        const started = (await marks.read()).filter((m) => m.e === 'start');
        return held
          .filter((run) => !started.some((m) => m.runId === run.runId && m.attempt > run.attempt))
          .map((run) => run.runId);
      },
      (waiting) => waiting.length === 0,
      `round ${round}: the runs ${victim.workerId} held recovered as a new attempt`,
      { timeoutMs: 120_000 },
    ).catch((error: unknown) => console.log(`chaos ${NAME}: round ${round}: ${String(error)}`));
    await writeFile(gate, 'go');
    await settled(plane, runIds, 120_000);
  }

  const records = await settled(plane, fired, 60_000);
  await loop.stop();
  const counts = tally(fired.length, records, await marks.read());
  for (const agent of fleet) await agent.stop();
  console.log(
    `chaos ${NAME}: ${fleet.reduce((n, a) => n + a.restarts, 0)} restarts; monitor recovered ${loop.reports.reduce((n, r) => n + r.runsRecovered, 0)} runs`,
  );
  report(NAME, counts);
});
