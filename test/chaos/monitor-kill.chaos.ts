/**
 * Chaos: the monitor killed mid-sweep. A victim agent holds a seeded number of runs of a recoverable
 * job (each waiting on a gate, so they are mid-work) and is killed with SIGKILL, never restarted. The
 * monitor is the real Lambda handler (functions/monitor/handler.ts, looping every second) in its own
 * process; it is killed with SIGKILL at seeded points while its sweep re-dispatches the victim's runs —
 * after it has logged a seeded number of recoveries, so the kill lands inside the sweep — and started
 * again, several times; the last one finishes the job. Every run must be recovered exactly once (attempt
 * 2, on a survivor), and once the gate opens, end SUCCEEDED with its work done once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import type { Run } from '../../core/model';
import { emulatorEnv } from '../../infra/local/emulator';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';
import { chaosHandlerConfig, chaosJob, chaosStage, report, settled, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'monitor-kill';
const MONITOR = resolve(import.meta.dirname, '../../functions/monitor/handler.ts');

/** The monitor Lambda's handler in a process of its own, looping a sweep every second. */
class MonitorProcess {
  private output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;

  constructor() {
    const script = `const m = await import(${JSON.stringify(MONITOR)}); await m.handler();`;
    this.child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: {
        ...process.env,
        ...emulatorEnv(aws.emulator),
        CLOVER_PREFIX: aws.prefix,
        CLOVER_MONITOR_LOOP_SECONDS: '1',
        CLOVER_MONITOR_RUN_SECONDS: '900',
        NODE_OPTIONS: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
      });
    }
    this.exited = new Promise((r) => this.child.once('exit', r));
  }

  /** Runs this process re-dispatched (its own log lines). */
  recoveries(): string[] {
    return this.output
      .split('\n')
      .filter((line) => line.includes('re-dispatched as attempt'))
      .map((line) => String((JSON.parse(line) as { runId?: string }).runId));
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

const monitors: MonitorProcess[] = [];
after(() => Promise.all(monitors.map((m) => m.kill())));

test('the monitor killed mid-sweep while it recovers a dead agent’s runs, again and again: the next one finishes, nothing recovered twice', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  const common = ['pool: mk', 'capacity: 24', chaosHandlerConfig()];
  const [victim, ...survivors] = await Promise.all([
    agents.start({
      aws,
      workerId: 'mk-victim',
      env: marks.env,
      config: ['priority: 1', 'heartbeatIntervalSeconds: 1', 'leaseTtlSeconds: 4', ...common].join('\n'),
    }),
    ...['mk-1', 'mk-2'].map((workerId) =>
      agents.start({
        aws,
        workerId,
        env: marks.env,
        config: ['priority: 5', 'heartbeatIntervalSeconds: 2', 'leaseTtlSeconds: 60', ...common].join('\n'),
      }),
    ),
  ]);
  if (!victim) throw new Error('no victim');
  await Promise.all([victim, ...survivors].map((agent) => agent.waitForLog(/agent started/)));
  const gate = marks.gate('work');
  await plane.jobService.define(
    chaosJob('mk', 'mk', {
      payload: { gate, sleepMs: 100 },
      routing: 'FIRST', // the victim first (priority 1): it holds every run
      recoverOnWorkerLoss: true,
      timeoutSeconds: 900,
    }),
  );
  const runIds: string[] = [];
  const count = chaos.int(14, 22);
  for (let i = 0; i < count; i += 1) {
    const outcome = await plane.dispatcher.fire({ jobId: 'mk', trigger: 'MANUAL' });
    assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
    if (outcome.kind === 'dispatched') runIds.push(outcome.runs[0]!.runId);
  }
  await waitFor(
    () => marks.started(1),
    (started) => runIds.every((id) => started.has(id)),
    'every run started on the victim',
    { timeoutMs: 120_000 },
  );
  const get = async (runId: string) => (await plane.runs.get(runId)) as Run;
  for (const run of await Promise.all(runIds.map(get))) assert.equal(run.workerId, 'mk-victim');
  await victim.kill();
  await waitFor(
    () => plane.workers.get('mk-victim'),
    (lease) => (lease?.leaseExpiresAt ?? 0) < Date.now(),
    "the victim's lease to lapse",
  );

  // Monitors killed mid-sweep: each after a seeded number of recoveries of its own.
  const kills = chaos.int(2, 4);
  const recovered = new Set<string>();
  for (let k = 0; k < kills && recovered.size < runIds.length - 1; k += 1) {
    const monitor = new MonitorProcess();
    monitors.push(monitor);
    const left = runIds.length - recovered.size;
    const after = chaos.int(1, Math.max(1, Math.floor(left / 2)));
    await waitFor(
      () => monitor.recoveries().length,
      (n) => n >= after,
      `monitor ${k + 1} to recover ${after} runs`,
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    await monitor.kill();
    for (const runId of monitor.recoveries()) recovered.add(runId);
    console.log(
      `chaos ${NAME}: monitor ${k + 1} killed mid-sweep after ${monitor.recoveries().length} recoveries`,
    );
  }
  const last = new MonitorProcess();
  monitors.push(last);
  await waitFor(
    () => marks.started(2),
    (started) => runIds.every((id) => started.has(id)),
    'every run recovered as attempt 2',
    { timeoutMs: 120_000 },
  ).catch((error: unknown) => console.log(`chaos ${NAME}: ${String(error)}`));
  await writeFile(gate, 'go');
  const records = await settled(plane, runIds, 120_000);
  await last.kill();
  const counts = tally(runIds.length, records, await marks.read());
  const twice = records.filter((run) => typeof run !== 'string' && run.attempt !== 2);
  for (const agent of survivors) agent.signal('SIGTERM');
  for (const agent of survivors) await agent.waitForExit(90_000);
  report(NAME, counts);
  assert.deepEqual(
    twice.map((run) => typeof run !== 'string' && `${run.runId}: attempt ${run.attempt}`),
    [],
    'every run recovered exactly once (attempt 2)',
  );
});
