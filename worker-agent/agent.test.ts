/**
 * The Agent over in-memory fakes (core/testing/memory-stores.ts and a memory queue): cancel through
 * the run record, outage journaling and replay, a refused replay, drain hand-back, and the CLI's
 * argument parser. The real-process behaviour is tested in test/agent/.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { DeadLetter, DeadLetterResult, InboxMessage } from '../core/adapters/sqs-inbox';
import type { Dispatcher } from '../core/dispatch';
import { type DispatchEnvelope, envelopeFor } from '../core/envelope';
import { UnavailableError } from '../core/errors';
import { RunExecution } from '../core/execution';
import { JobService } from '../core/jobs';
import { jsonLogger, silentLogger } from '../core/log';
import { healthAfter, type Run } from '../core/model';
import type { RunFinished, RunLedger, RunTransition } from '../core/ports';
import { systemClock } from '../core/ports';
import {
  MemoryJobStore,
  MemoryRunLedger,
  MemoryScheduleGateway,
  MemoryWorkerRegistry,
} from '../core/testing/memory-stores';
import { waitFor } from '../test/harness/wait';
import { Agent } from './agent';
import type { AgentDeps } from './agent-deps';
import { parseAgentArgs } from './cli';
import { parseAgentConfig } from './config';
import { HandlerRegistry, handler } from './registry';
import type { AgentQueue } from './sqs-queues';

class MemoryQueue implements AgentQueue {
  readonly queueUrl = 'memory://own';
  readonly messages: { envelope: DispatchEnvelope; receipt: string; visible: boolean }[] = [];
  readonly acked: string[] = [];
  private n = 0;

  push(envelope: DispatchEnvelope): void {
    this.n += 1;
    this.messages.push({ envelope, receipt: `r${this.n}`, visible: true });
  }

  /** How many messages each receive asked for, and how often each message was received. */
  readonly asked: number[] = [];
  readonly receivedTimes = new Map<string, number>();

  async receive(options: { maxMessages?: number; signal?: AbortSignal } = {}): Promise<InboxMessage[]> {
    this.asked.push(options.maxMessages ?? 10);
    for (let i = 0; i < 20 && !options.signal?.aborted; i += 1) {
      const ready = this.messages.filter((m) => m.visible).slice(0, options.maxMessages ?? 10);
      if (ready.length > 0) {
        for (const m of ready) {
          m.visible = false;
          this.receivedTimes.set(m.receipt, (this.receivedTimes.get(m.receipt) ?? 0) + 1);
        }
        return ready.map((m) => ({ ok: true, envelope: m.envelope, receipt: m.receipt, receiveCount: 1 }));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return [];
  }

  async ack(receipt: string): Promise<void> {
    this.acked.push(receipt);
    const index = this.messages.findIndex((m) => m.receipt === receipt);
    if (index >= 0) this.messages.splice(index, 1);
  }

  async extend(receipt: string, seconds: number): Promise<void> {
    if (seconds === 0) await this.release(receipt);
  }

  async release(receipt: string): Promise<void> {
    const m = this.messages.find((x) => x.receipt === receipt);
    if (m) m.visible = true;
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<DeadLetterResult> {
    for (const letter of letters) await this.ack(letter.receipt);
    return { moved: 0, deleted: letters.length };
  }
}

/** A ledger whose writes can be made to fail as if AWS did not answer. */
class FlakyLedger extends MemoryRunLedger {
  down = false;
  /** When set, claims wait for it (a claim still in flight). */
  claimGate: Promise<void> | undefined;
  override async transition(...args: Parameters<RunLedger['transition']>): Promise<Run> {
    if (this.down) throw new UnavailableError('table runs');
    return super.transition(...args);
  }
  override async claim(...args: Parameters<RunLedger['claim']>): Promise<Run> {
    if (this.down) throw new UnavailableError('table runs');
    const claimed = await super.claim(...args);
    await this.claimGate;
    return claimed;
  }
  override async finish(...args: Parameters<RunLedger['finish']>): Promise<RunFinished> {
    if (this.down) throw new UnavailableError('table runs');
    return super.finish(...args);
  }
  override async patch(...args: Parameters<RunLedger['patch']>): Promise<Run> {
    if (this.down) throw new UnavailableError('table runs');
    return super.patch(...args);
  }
  override async get(runId: string): Promise<Run | null> {
    if (this.down) throw new UnavailableError('table runs');
    return super.get(runId);
  }
}

const started: Agent[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((agent) => agent.close({ force: true })));
});

async function setup(yaml = '', registry?: HandlerRegistry) {
  const dir = await mkdtemp(join(tmpdir(), 'clover-agent-unit-'));
  const config = parseAgentConfig(
    `workerId: w1\nheartbeatIntervalSeconds: 0.2\nleaseTtlSeconds: 2\ndrainGraceSeconds: 0.3\njournalDir: ${dir}\n${yaml}`,
  );
  const runs = new FlakyLedger();
  const workers = new MemoryWorkerRegistry();
  const jobs = new MemoryJobStore();
  const settle = async () => {};
  // The runs here take no lock (ALLOW): finishing is the ledger's write alone.
  const finish = (run: Run, change: RunTransition) =>
    runs.finish(run, { ...change, health: healthAfter(change.to) });
  const execution = new RunExecution({
    jobs,
    runs,
    dispatcher: { settle, finish } as unknown as Dispatcher,
    clock: { now: () => Date.now() },
    log: silentLogger,
  });
  const queue = new MemoryQueue();
  // What the agent logs: the events the tests below wait on (an outcome journaled, not written...).
  const lines: string[] = [];
  const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(line) });
  const logged = (message: string) =>
    waitFor(
      () => lines.find((line) => line.includes(message)),
      (line) => line !== undefined,
      `the agent to log "${message}"`,
      { intervalMs: 10 },
    );
  const jobService = new JobService({
    jobs,
    schedules: new MemoryScheduleGateway(),
    workers,
    clock: systemClock,
    log: silentLogger,
  });
  const deps: AgentDeps = {
    workers,
    runs,
    execution,
    settle,
    jobs,
    jobService,
    queues: { own: async () => queue, pool: async () => null, remove: async () => {} },
  };
  const agent = new Agent({
    config,
    deps,
    receiveWaitSeconds: 1,
    flushIntervalMs: 50,
    cancelPollMs: 100,
    logger,
    ...(registry ? { registry } : {}),
  });
  started.push(agent);
  let n = 0;
  /** A DISPATCHED run for `handler`, delivered to the agent's queue. */
  const deliver = async (handler: string, payload: unknown = null): Promise<Run> => {
    n += 1;
    const now = Date.now();
    const run: Run = {
      runId: `job@${n}`,
      jobId: 'job',
      scheduledTime: '2026-01-30T10:00:00Z',
      trigger: 'MANUAL',
      handler,
      payload,
      status: 'DISPATCHED',
      attempt: 1,
      fence: 1,
      jobVersion: 1,
      concurrency: 'ALLOW',
      workerId: 'w1',
      createdAt: now,
      updatedAt: now,
      deadlineAt: now + 60_000,
      history: [{ at: now, status: 'DISPATCHED', attempt: 1 }],
    };
    await runs.create(run);
    queue.push(envelopeFor(run, now + 60_000, now));
    return run;
  };
  const until = async (runId: string, done: (run: Run) => boolean) =>
    (await waitFor(
      () => runs.runs.get(runId),
      (run) => run !== undefined && done(run),
      `run ${runId}`,
      { intervalMs: 10 },
    )) as Run;
  return { agent, runs, workers, queue, deliver, until, logged, dir, jobs: deps.jobs };
}

describe('Agent', () => {
  test('jobs declared on @handler decorators are synced on start, owned by the config', async () => {
    class Reports {
      @handler('report.daily', {
        job: { jobId: 'daily-report', schedule: { expression: 'cron(0 6 * * ? *)' } },
      })
      async daily(): Promise<string> {
        return 'done';
      }
    }
    const registry = new HandlerRegistry();
    registry.registerInstance(new Reports());
    // No `jobs:` and no `jobsOwner`: the decorator's job alone makes the sync run.
    const { agent, jobs } = await setup('', registry);
    await agent.start();
    const job = await jobs?.get('daily-report');
    assert.equal(job?.spec.handler, 'report.daily');
    assert.equal(job?.owner, 'agent:default:agent');
    assert.deepEqual(agent.declaredJobs?.added, ['daily-report']);
  });

  test('runs a handler with its context, writes logs, progress and the result, and acks after the claim', async () => {
    const { agent, deliver, until, queue, workers } = await setup();
    agent.handle('echo', async (ctx) => {
      ctx.log('one');
      ctx.progress(50, 'half');
      ctx.log('two');
      return { payload: ctx.payload, attempt: ctx.attempt };
    });
    await agent.start();
    assert.deepEqual((await workers.get('w1'))?.handlers, ['echo']);
    const run = await deliver('echo', { x: 1 });
    const done = await until(run.runId, (r) => r.status === 'SUCCEEDED');
    assert.deepEqual(done.result, { payload: { x: 1 }, attempt: 1 });
    assert.deepEqual(done.log, ['one', 'two']);
    assert.deepEqual(done.progress, { percent: 50, message: 'half' });
    assert.equal(queue.acked.length, 1);
  });

  test('the own queue is received ten at a time; envelopes beyond the free slots wait held, received once, and all run', async () => {
    const { agent, deliver, until, queue } = await setup('capacity: 1');
    let running = 0;
    let most = 0;
    agent.handle('slow', async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 30));
      running -= 1;
    });
    const runs = [await deliver('slow'), await deliver('slow'), await deliver('slow')];
    await agent.start();
    for (const run of runs) await until(run.runId, (r) => r.status === 'SUCCEEDED');
    assert.equal(most, 1, 'one at a time: capacity 1');
    assert.equal(queue.asked[0], 10, 'a full batch from the own queue');
    assert.deepEqual([...queue.receivedTimes.values()], [1, 1, 1], 'held, not released and received again');
    assert.equal(queue.acked.length, 3);
  });

  test('a claim answered after the agent stopped taking work hands the run back instead of starting it', async () => {
    const { agent, deliver, until, runs } = await setup();
    let ran = false;
    agent.handle('echo', async () => {
      ran = true;
    });
    let answer: () => void = () => {};
    runs.claimGate = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await agent.start();
    const run = await deliver('echo');
    await until(run.runId, (r) => r.status === 'RUNNING');
    const closing = agent.close();
    await until(run.runId, () => agent.status !== 'RUNNING');
    answer();
    await closing;
    const back = await until(run.runId, (r) => r.status === 'PENDING');
    assert.equal(back.reason, 'handed_back');
    assert.equal(ran, false, 'the handler never started');
  });

  test('cancelRequested on the run aborts the handler; the outcome is CANCELLED', async () => {
    const { agent, deliver, until, runs } = await setup();
    agent.handle(
      'wait',
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    );
    await agent.start();
    const run = await deliver('wait');
    await until(run.runId, (r) => r.status === 'RUNNING');
    const current = runs.runs.get(run.runId)!;
    runs.runs.set(run.runId, { ...current, cancelRequested: true });
    const done = await until(run.runId, (r) => r.status === 'CANCELLED');
    assert.equal(done.error?.code, 'cancelled');
  });

  test('a run superseded elsewhere is aborted and nothing is written', async () => {
    const { agent, deliver, until, logged, runs } = await setup();
    let aborted = false;
    agent.handle(
      'wait',
      (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(ctx.signal.reason);
          }),
        ),
    );
    await agent.start();
    const run = await deliver('wait');
    const running = await until(run.runId, (r) => r.status === 'RUNNING');
    await runs.transition(run.runId, {
      from: ['RUNNING'],
      fence: running.fence,
      to: 'TIMED_OUT',
      at: Date.now(),
    });
    const superseded = runs.runs.get(run.runId);
    // The agent's decision about this run's outcome, logged once the handler has settled.
    await logged('the run is no longer this attempt’s; outcome not written');
    assert.ok(aborted, 'the handler was aborted');
    assert.deepEqual(runs.runs.get(run.runId), superseded, 'the record is as the other writer left it');
  });

  test('outcomes and logs are journaled while AWS does not answer and replayed in order after', async () => {
    const { agent, deliver, until, logged, runs } = await setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    agent.handle('gated', async (ctx) => {
      await gate;
      ctx.log('finished');
      return 'ok';
    });
    await agent.start();
    const run = await deliver('gated');
    await until(run.runId, (r) => r.status === 'RUNNING');
    runs.down = true;
    release();
    await logged('journaled outcome');
    assert.equal(runs.runs.get(run.runId)?.status, 'RUNNING', 'nothing written while AWS is down');
    runs.down = false;
    const done = await until(run.runId, (r) => r.status === 'SUCCEEDED');
    assert.equal(done.result, 'ok');
    assert.deepEqual(done.log, ['finished']);
  });

  test('a journal that cannot take an entry (a full disk) keeps it in memory; it is written once AWS answers', async () => {
    const { agent, deliver, until, logged, runs, dir } = await setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    agent.handle('gated', async (ctx) => {
      await gate;
      ctx.log('finished');
      return 'ok';
    });
    await agent.start();
    const run = await deliver('gated');
    await until(run.runId, (r) => r.status === 'RUNNING');
    runs.down = true;
    // Every append now fails (ENOTDIR), as it would with ENOSPC: the journal directory is a file.
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a directory');
    release();
    // Behind the run's log batch, which the journal refused first.
    await logged('outcome kept in memory');
    assert.equal(runs.runs.get(run.runId)?.status, 'RUNNING', 'nothing written while AWS is down');
    runs.down = false;
    const done = await until(run.runId, (r) => r.status === 'SUCCEEDED');
    assert.equal(done.result, 'ok');
    assert.deepEqual(done.log, ['finished'], 'the log lines too, before the outcome');
  });

  test('drain hands back a run that outlasts the grace, then releases the lease', async () => {
    const { agent, deliver, until, runs, workers } = await setup();
    agent.handle(
      'forever',
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    );
    await agent.start();
    const run = await deliver('forever');
    await until(run.runId, (r) => r.status === 'RUNNING');
    await agent.close();
    assert.equal(runs.runs.get(run.runId)?.status, 'PENDING');
    assert.equal(runs.runs.get(run.runId)?.reason, 'handed_back');
    assert.equal(workers.workers.get('w1')?.status, 'GONE');
    assert.deepEqual(await agent.stopped, { reason: 'closed', errors: [] });
  });

  test('an unknown handler fails the run with unknown_handler', async () => {
    const { agent, deliver, until } = await setup();
    await agent.start();
    const run = await deliver('nope');
    const done = await until(run.runId, (r) => r.status === 'FAILED');
    assert.equal(done.error?.code, 'unknown_handler');
  });
});

describe('parseAgentArgs', () => {
  test('maps flags to config overrides; numbers parsed, labels split', () => {
    const args = parseAgentArgs([
      '--config',
      'a.yaml',
      '--worker-id',
      'w9',
      '--capacity',
      '8',
      '--labels',
      'zone=a,tier=b',
    ]);
    assert.deepEqual(args, {
      help: false,
      config: 'a.yaml',
      flags: { workerId: 'w9', capacity: 8, labels: { zone: 'a', tier: 'b' } },
    });
    assert.equal(parseAgentArgs(['--capacity', 'lots']).flags.capacity, 'lots' as unknown as number);
    assert.equal(parseAgentArgs(['-h']).help, true);
    assert.throws(() => parseAgentArgs(['--nope']), /nope/);
  });
});
