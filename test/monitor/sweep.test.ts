/**
 * The monitor's sweep and the notifier against the emulator: DynamoDB, SQS and SES for real, the
 * clock driven by hand (leases, deadlines and schedules compare it), mail read back from the emulator.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { controlPlane } from '../../core/adapters/control-plane';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { parseAlertMessage, SqsAlertQueue } from '../../core/adapters/sqs-alert-queue';
import { ALERT_UNQUEUED, RecordingAlertHook } from '../../core/alerts';
import { RunNotInStateError, StaleFenceError } from '../../core/errors';
import { fireRunId, type Run } from '../../core/model';
import { Monitor } from '../../core/monitor';
import { Notifier } from '../../core/notify';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { makeNotifierHandler } from '../../functions/notifier/handler';
import { useEmulator } from '../harness';
import { drainInbox, joinFleet } from '../harness/fleet';
import { eventSourcePass } from '../harness/sqs-event-source';

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
      const pass = await eventSourcePass(aws.clients.sqs, stack.queues.alerts, notify);
      assert.equal(pass.failures, 0);
      for (const body of pass.bodies) parseAlertMessage(body);
      return pass.delivered;
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

  test('missed LOCAL fires while no agent is alive: SKIP records SKIPPED(misfire), FIRE_ONCE_NOW one catch-up run', async () => {
    const w = await world();
    const pool = uniqueId('pool');
    const agent = await w.join(uniqueId('agent'), 3_600_000, { pool });
    const once = uniqueId('job');
    const skip = uniqueId('job');
    // LOCAL: fired by the agents' own timers, every 30 s (seconds in the cron are LOCAL-only).
    const schedule = { expression: '0/30 * * * * ?', timezone: 'UTC' };
    for (const [jobId, policy] of [
      [once, 'FIRE_ONCE_NOW'],
      [skip, 'SKIP'],
    ] as const) {
      await w.define({
        jobId,
        mode: 'LOCAL',
        schedule,
        target: { pool },
        misfire: { policy, windowSeconds: 3600 },
      });
    }
    // While a capable agent is alive the monitor leaves LOCAL fires to it.
    w.clock.t += 3 * minute;
    const alive = await w.monitor.sweep();
    assert.equal(alive.catchUpFires + alive.misfiresSkipped, 0, JSON.stringify(alive));
    assert.deepEqual(await w.plane.runs.listByJob(skip), []);

    // The only agent leaves; three minutes later (grace 60 s) the misses are handled by policy.
    await w.plane.workers.setStatus(agent.worker.workerId, agent.worker.leaseFence, 'GONE', w.clock.t);
    const leftAt = w.clock.t;
    w.clock.t += 3 * minute;
    const report = await w.monitor.sweep();
    assert.equal(report.catchUpFires, 1, JSON.stringify(report));
    const skipped = await w.plane.runs.listByJob(skip, { order: 'oldest', limit: 100 });
    assert.ok(skipped.length > 0);
    assert.equal(report.misfiresSkipped, skipped.length);
    for (const run of skipped) {
      assert.deepEqual([run.status, run.reason, run.trigger], ['SKIPPED', 'misfire', 'LOCAL'], run.runId);
      assert.equal(Date.parse(run.scheduledTime) % (30 * second), 0, 'an instant of the schedule');
      assert.ok(Date.parse(run.scheduledTime) <= w.clock.t - minute, 'older than the grace');
    }
    assert.ok(
      skipped.some((run) => Date.parse(run.scheduledTime) > leftAt),
      'instants after the agent left',
    );
    const catchUp = await w.plane.runs.listByJob(once);
    assert.deepEqual(
      catchUp.map((r) => [r.trigger, r.status]),
      [['CATCHUP', 'NO_WORKER']],
      'one catch-up run, waiting for a worker by the retry policy',
    );
    // The next sweep finds nothing new: the records are idempotent by run id.
    const again = await w.monitor.sweep();
    assert.equal(again.catchUpFires + again.misfiresSkipped, 0, JSON.stringify(again));
  });

  test('an alert whose queue send failed is queued by the next sweep and mailed, not left PENDING', async () => {
    const w = await world();
    const email = `${uniqueId('owner')}@example.com`;
    const contact = await w.owner(email);
    const jobId = uniqueId('job');
    await w.define({ jobId, contacts: [contact] });
    await w.deliverAlerts(); // what earlier tests left on the queue
    // The alerts queue does not answer when the alert is raised (a queue that is not there).
    const hook = new RecordingAlertHook({
      alerts: w.plane.alertStore,
      queue: new SqsAlertQueue({ client: aws.clients.sqs, queueUrl: `${w.stack.queues.alerts}-unreachable` }),
      log: w.plane.log,
    });
    await hook.raise({ kind: 'failure', jobId, message: 'attempt 1 failed: boom', at: w.clock.t });
    const [record] = await w.plane.alertStore.listByJob(jobId);
    assert.equal(record?.status, 'PENDING');
    assert.ok((await w.plane.alertStore.flagged(ALERT_UNQUEUED)).has(record.alertId));
    assert.equal(await w.deliverAlerts(), 0, 'nothing on the queue');

    // (The sweep may raise alerts of its own about earlier tests' jobs; only this one is counted.)
    const report = await w.monitor.sweep();
    assert.equal(report.alertsRequeued, 1);
    assert.ok((await w.deliverAlerts()) >= 1);
    assert.equal((await w.plane.alertStore.get(record.alertId))?.status, 'SENT');
    assert.equal((await w.plane.alertStore.flagged(ALERT_UNQUEUED)).has(record.alertId), false);
    // Bounded by events, not time: a further sweep and delivery send nothing more for it.
    assert.equal((await w.monitor.sweep()).alertsRequeued, 0);
    await w.deliverAlerts();
    // (The job has no live worker, so the owner also hears that it is unavailable: another mail.)
    const mails = (await aws.sentEmails()).filter((m) => m.to.includes(email) && /boom/.test(m.body));
    assert.equal(mails.length, 1, 'the failure alert was mailed once');
  });

  test('SES refuses an unverified sender: the alert records SES’s reason, is retried by policy, and is mailed once the sender is verified', async () => {
    const w = await world();
    const email = `${uniqueId('owner')}@example.com`;
    const contact = await w.owner(email);
    const jobId = uniqueId('job');
    await w.define({ jobId, contacts: [contact] });
    const sender = `${uniqueId('unverified')}@example.com`;
    const notify = makeNotifierHandler({
      notifier: new Notifier({
        alerts: w.plane.alertStore,
        queue: w.plane.alertQueue,
        contacts: w.plane.contacts,
        jobs: w.plane.jobs,
        mailer: new SesMailer({ client: aws.clients.ses }),
        clock: w.clock,
        log: w.plane.log,
        config: { from: sender, consoleUrl: 'https://console.example.com', maxAttempts: 5 },
      }),
      log: w.plane.log,
    });
    await w.plane.alerts.raise({ kind: 'failure', jobId, message: 'attempt 1 failed: boom', at: w.clock.t });
    const [alert] = await w.plane.alertStore.listByJob(jobId);
    assert.ok(alert);

    /** One delivery by the SQS event source: receive, invoke, delete only what succeeded. */
    const deliver = async () => {
      const out = await aws.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: w.stack.queues.alerts,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 5,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      const [m] = out.Messages ?? [];
      assert.ok(m, 'the alert message is still on the queue');
      const { batchItemFailures } = await notify({
        Records: [{ messageId: m.MessageId ?? '', body: m.Body ?? '', attributes: m.Attributes ?? {} }],
      });
      if (batchItemFailures.length === 0) {
        await aws.clients.sqs.send(
          new DeleteMessageCommand({ QueueUrl: w.stack.queues.alerts, ReceiptHandle: m.ReceiptHandle }),
        );
      } else {
        // Redelivery after the visibility timeout, without waiting it out.
        await aws.clients.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: w.stack.queues.alerts,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      return { retried: batchItemFailures.length > 0, record: await w.plane.alertStore.get(alert.alertId) };
    };

    for (const attempt of [1, 2]) {
      const { retried, record } = await deliver();
      assert.ok(retried, `attempt ${attempt}: handed back to the queue for a retry`);
      assert.equal(record?.status, 'FAILED');
      assert.equal(record?.attempts, attempt);
      assert.match(record?.reason ?? '', /not verified/i, 'SES’s own reason is on the alert');
    }
    await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: sender }));
    const { retried, record } = await deliver();
    assert.equal(retried, false);
    assert.equal(record?.status, 'SENT');
    assert.equal(record?.attempts, 3);
    const mails = (await aws.sentEmails()).filter((m) => m.to.includes(email));
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.source, sender);
    assert.equal(await w.deliverAlerts(), 0, 'nothing left on the queue');
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
    for (let i = 0; i < 120 && mails.length < 2; i++) {
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
