/**
 * The monitor's sweep and the notifier against the emulator: DynamoDB, SQS and SES for real, the
 * clock driven by hand (leases, deadlines and schedules compare it), mail read back from the emulator.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { controlPlane } from '../../core/adapters/control-plane';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { parseAlertMessage } from '../../core/adapters/sqs-alert-queue';
import { RunNotInStateError, StaleFenceError } from '../../core/errors';
import { fireRunId, type Run } from '../../core/model';
import { Monitor } from '../../core/monitor';
import { Notifier } from '../../core/notify';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { makeNotifierHandler } from '../../functions/notifier/handler';
import { useEmulator } from '../harness';
import { drainInbox, joinFleet } from '../harness/fleet';

const aws = useEmulator();
const second = 1000;
const minute = 60 * second;
const FROM = 'clover-alerts@example.com';

async function world() {
  const stack = await aws.provisioned();
  const clock = { t: Date.parse('2026-01-30T10:00:00Z'), now: () => clock.t };
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, clock, workerCacheMs: 0 });
  const monitor = new Monitor({ ...plane, deadLetters: plane.fireDeadLetters });
  await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: FROM }));
  let windowMs = 15 * minute;
  const notifier = () =>
    new Notifier({
      alerts: plane.alertStore,
      queue: plane.alertQueue,
      contacts: plane.contacts,
      jobs: plane.jobs,
      mailer: new SesMailer({ client: aws.clients.ses }),
      clock,
      log: plane.log,
      config: { from: FROM, consoleUrl: 'https://console.example.com', windowMs },
    });
  let notify = makeNotifierHandler({ notifier: notifier(), log: plane.log });
  return {
    stack,
    clock,
    plane,
    monitor,
    setWindow(ms: number) {
      windowMs = ms;
      notify = makeNotifierHandler({ notifier: notifier(), log: plane.log });
    },
    /** Receives what the alerts queue holds now and runs the notifier Lambda handler over it. */
    async deliverAlerts(): Promise<number> {
      let count = 0;
      for (;;) {
        const out = await aws.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: stack.queues.alerts,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
          }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) return count;
        const result = await notify({
          Records: messages.map((m) => ({ messageId: m.MessageId ?? '', body: m.Body ?? '' })),
        });
        assert.deepEqual(result.batchItemFailures, []);
        for (const m of messages) {
          await aws.clients.sqs.send(
            new DeleteMessageCommand({ QueueUrl: stack.queues.alerts, ReceiptHandle: m.ReceiptHandle }),
          );
          parseAlertMessage(m.Body ?? '');
          count += 1;
        }
      }
    },
    async owner(email: string) {
      const contactId = uniqueId('owner');
      await plane.contacts.create({ contactId, name: 'Owner', email });
      return contactId;
    },
    async define(spec: Record<string, unknown>) {
      return plane.jobService.define({ handler: 'reports.daily', ...spec });
    },
    async join(workerId: string, ttlMs = 10_000, extra: Record<string, unknown> = {}) {
      const member = await joinFleet(plane, aws.clients, { workerId, handlers: ['reports.daily'], ...extra });
      // joinFleet registers at the wall clock; re-register at the test clock with the lease we want.
      const {
        status: _s,
        leaseFence: _f,
        leaseExpiresAt: _e,
        registeredAt: _r,
        heartbeatAt: _h,
        load: _l,
        ...registration
      } = member.worker;
      const worker = await plane.workers.register(registration, clock.t, ttlMs);
      return { ...member, worker };
    },
  };
}

async function claimFrom(
  w: Awaited<ReturnType<typeof world>>,
  inbox: Parameters<typeof drainInbox>[0],
  workerId: string,
): Promise<Run> {
  const [envelope] = await drainInbox(inbox, 0);
  assert.ok(envelope, `an envelope for ${workerId}`);
  return w.plane.execution.claim(envelope, workerId);
}

describe('monitor sweep on the emulator', () => {
  test('expired lease: the recoverable run goes to another worker as attempt 2 with a higher fence; one lost mail', async () => {
    const w = await world();
    const email = `${uniqueId('owner')}@example.com`;
    const contact = await w.owner(email);
    const pool = uniqueId('pool');
    const jobId = uniqueId('job');
    await w.define({ jobId, contacts: [contact], target: { pool } });
    const a = await w.join(uniqueId('a'), 10_000, { pool });
    const fired = await w.plane.dispatcher.fire({ jobId, scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(fired.kind, 'dispatched');
    const running = await claimFrom(w, a.inbox, a.worker.workerId);
    w.clock.t += 5 * second;
    const b = await w.join(uniqueId('b'), 60_000, { pool });
    w.clock.t += 6 * second; // a is 11 s silent (kill -9): its 10 s lease has run out
    const report = await w.monitor.sweep();
    assert.equal(report.workersExpired, 1);
    assert.equal(report.runsRecovered, 1);
    const moved = (await w.plane.runs.get(running.runId))!;
    assert.equal(moved.status, 'DISPATCHED');
    assert.equal(moved.attempt, 2);
    assert.equal(moved.workerId, b.worker.workerId);
    assert.ok(moved.fence > running.fence);
    await assert.rejects(
      w.plane.execution.complete(running, { status: 'SUCCEEDED' }),
      (e: unknown) => e instanceof StaleFenceError || e instanceof RunNotInStateError,
    );
    const second_ = await claimFrom(w, b.inbox, b.worker.workerId);
    const done = await w.plane.execution.complete(second_, { status: 'SUCCEEDED' });
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.attempt, 2);
    await w.deliverAlerts();
    const mails = (await aws.sentEmails()).filter((m) => m.to.includes(email));
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /lost its worker/);
  });

  test('LOST when the job does not recover; timeout marks TIMED_OUT with cancelRequested', async () => {
    const w = await world();
    const pool = uniqueId('pool');
    const lostJob = uniqueId('job');
    const slowJob = uniqueId('job');
    await w.define({ jobId: lostJob, recoverOnWorkerLoss: false, target: { pool } });
    await w.define({ jobId: slowJob, timeoutSeconds: 30, target: { pool } });
    const a = await w.join(uniqueId('a'), 10_000, { pool });
    await w.plane.dispatcher.fire({ jobId: lostJob, scheduledTime: '2026-01-30T10:00:00Z' });
    await claimFrom(w, a.inbox, a.worker.workerId);
    const b = await w.join(uniqueId('b'), 3_600_000, { pool, handlers: ['reports.daily'] });
    w.clock.t += 11 * second;
    const first = await w.monitor.sweep();
    assert.equal(first.runsLost, 1);
    assert.equal((await w.plane.runs.get(fireRunId(lostJob, '2026-01-30T10:00:00Z')))?.status, 'LOST');

    await w.plane.dispatcher.fire({ jobId: slowJob, scheduledTime: '2026-01-30T10:01:00Z' });
    await claimFrom(w, b.inbox, b.worker.workerId);
    w.clock.t += 31 * second;
    const second_ = await w.monitor.sweep();
    assert.equal(second_.runsTimedOut, 1);
    const slow = (await w.plane.runs.get(fireRunId(slowJob, '2026-01-30T10:01:00Z')))!;
    assert.equal(slow.status, 'TIMED_OUT');
    assert.equal(slow.cancelRequested, true);
  });

  test('dispatcher down for 5 fires: FIRE_ONCE_NOW makes one catch-up run, SKIP five SKIPPED(misfire)', async () => {
    const w = await world();
    const pool = uniqueId('pool');
    await w.join(uniqueId('a'), 3_600_000, { pool });
    const once = uniqueId('job');
    const skip = uniqueId('job');
    const schedule = { expression: 'cron(* * * * ? *)', timezone: 'UTC' };
    await w.define({
      jobId: once,
      schedule,
      target: { pool },
      misfire: { policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 },
    });
    await w.define({
      jobId: skip,
      schedule,
      target: { pool },
      misfire: { policy: 'SKIP', windowSeconds: 3600 },
    });
    w.clock.t += 5 * minute + 61 * second;
    // One of the misses also reached the scheduler's dead-letter queue.
    await aws.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: w.stack.queues['fires-dlq'],
        MessageBody: JSON.stringify({ jobId: once, scheduledTime: '2026-01-30T10:03:00Z' }),
      }),
    );
    const report = await w.monitor.sweep();
    assert.equal(report.catchUpFires, 1);
    assert.equal(report.misfiresSkipped, 5);
    assert.equal(report.deadLettersDrained, 1);
    await w.monitor.sweep();
    const onceRuns = await w.plane.runs.listByJob(once);
    assert.deepEqual(
      onceRuns.map((r) => [r.trigger, r.scheduledTime]),
      [['CATCHUP', '2026-01-30T10:05:00Z']],
    );
    const skipRuns = await w.plane.runs.listByJob(skip, { order: 'oldest' });
    assert.deepEqual(
      skipRuns.map((r) => [r.scheduledTime, r.status, r.reason]),
      [1, 2, 3, 4, 5].map((m) => [`2026-01-30T10:0${m}:00Z`, 'SKIPPED', 'misfire']),
    );
  });

  test('a job whose only capable worker leaves: one job_unavailable mail within one sweep, not one per sweep', async () => {
    const w = await world();
    const email = `${uniqueId('owner')}@example.com`;
    const contact = await w.owner(email);
    const pool = uniqueId('pool');
    const jobId = uniqueId('job');
    await w.define({ jobId, contacts: [contact], target: { pool } });
    const a = await w.join(uniqueId('a'), 3_600_000, { pool });
    await w.monitor.sweep();
    await w.plane.workers.setStatus(a.worker.workerId, a.worker.leaseFence, 'GONE', w.clock.t);
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 1);
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 0);
    await w.deliverAlerts();
    const mails = (await aws.sentEmails()).filter((m) => m.to.includes(email));
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /unavailable/);
  });

  test('a job failing 20 times in a row: one failure mail and one digest, read back from SES', async () => {
    const w = await world();
    const email = `${uniqueId('owner')}@example.com`;
    const contact = await w.owner(email);
    const pool = uniqueId('pool');
    const jobId = uniqueId('job');
    await w.define({ jobId, contacts: [contact], target: { pool } });
    const a = await w.join(uniqueId('a'), 3_600_000, { pool });
    // Twenty manual fires 200 ms apart (test clock) inside a 5 s window, so the digest's SQS delay is short.
    w.setWindow(5 * second);
    for (let i = 0; i < 20; i++) {
      await w.plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
      const run = await claimFrom(w, a.inbox, a.worker.workerId);
      await w.plane.execution.complete(run, { status: 'FAILED', error: { code: 'E', message: `boom ${i}` } });
      await w.deliverAlerts();
      w.clock.t += 200;
    }
    let mails = (await aws.sentEmails()).filter((m) => m.to.includes(email));
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.body, /console\.example\.com\/runs\//);
    // The window ends; the digest's delayed message arrives and is mailed.
    w.clock.t += 5 * second;
    for (let i = 0; i < 30 && mails.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await w.deliverAlerts();
      mails = (await aws.sentEmails()).filter((m) => m.to.includes(email));
    }
    assert.equal(mails.length, 2);
    assert.match(mails[1]!.subject, /19 more failure alerts \(digest\)/);
    const records = await w.plane.alertStore.listByJob(jobId, { limit: 100 });
    assert.equal(records.filter((r) => r.status === 'SUPPRESSED').length, 19);
  });
});
