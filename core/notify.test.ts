import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NotFoundError, ValidationError } from './errors';
import { AlertKinds, fireRunId } from './model';
import { alertingWorld } from './testing/alerting-world';

const minute = 60_000;

/** A job that fails `n` times in a row, a minute apart, with its alerts processed as they come. */
async function failRepeatedly(w: ReturnType<typeof alertingWorld>, n: number) {
  for (let i = 0; i < n; i++) {
    const scheduledTime = new Date(w.clock.now()).toISOString().replace('.000', '');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime });
    const run = await w.claim(fireRunId('report', scheduledTime));
    await w.execution.complete(run, { status: 'FAILED', error: { code: 'E', message: `boom ${i}` } });
    await w.notifyAll();
    w.clock.advance(minute / 2);
  }
}

describe('Notifier', () => {
  test('a job failing 20 times in a row: one failure email and one digest, not 20', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * minute } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    await w.worker('a');
    await failRepeatedly(w, 20); // 10 minutes: all inside one 15-minute window
    assert.equal(w.mailer.sent.length, 1);
    assert.match(w.mailer.sent[0]!.subject, /Job report failed/);
    assert.match(
      w.mailer.sent[0]!.text,
      /https:\/\/console\.example\.com\/runs\/report%402026-01-30T10%3A00%3A00Z/,
    );
    w.clock.advance(15 * minute);
    await w.notifyAll();
    assert.equal(w.mailer.sent.length, 2);
    const digest = w.mailer.sent[1]!;
    assert.match(digest.subject, /19 more failure alerts \(digest\)/);
    assert.deepEqual(digest.to, ['owner@example.com']);
    const records = [...w.alertStore.records.values()];
    assert.equal(records.filter((r) => r.status === 'SENT').length, 2);
    assert.equal(records.filter((r) => r.status === 'SUPPRESSED' && r.foldedInto).length, 19);
    // Redelivery of a sent alert changes nothing.
    const first = records.find((r) => r.status === 'SENT' && !r.digest)!;
    assert.equal((await w.notifier.process({ alertId: first.alertId })).outcome, 'duplicate');
    assert.equal(w.mailer.sent.length, 2);
  });

  /** Fires one run of `report` now and completes it with `status`; processes the alerts. */
  async function runOnce(w: ReturnType<typeof alertingWorld>, status: 'FAILED' | 'SUCCEEDED') {
    const scheduledTime = new Date(w.clock.now()).toISOString().replace('.000', '');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime });
    const run = await w.claim(fireRunId('report', scheduledTime));
    await w.execution.complete(
      run,
      status === 'FAILED' ? { status, error: { code: 'E', message: 'boom' } } : { status },
    );
    await w.notifyAll();
    w.clock.advance(minute / 2);
  }

  test('a flapping job: one failure mail, then its later failures and recoveries in one digest', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * minute } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    await w.worker('a');
    for (let i = 0; i < 8; i++) {
      await runOnce(w, 'FAILED');
      await runOnce(w, 'SUCCEEDED');
    }
    assert.equal(w.alertKinds().filter((k) => k === 'recovery').length, 8);
    assert.deepEqual(
      w.mailer.sent.map((m) => m.subject),
      ['[Clover] Job report failed'],
    );
    w.clock.advance(15 * minute);
    await w.notifyAll();
    assert.equal(w.mailer.sent.length, 2);
    const digest = w.mailer.sent[1]!;
    assert.match(digest.subject, /15 more failure alerts \(digest\)/);
    assert.equal(digest.text.match(/recovery: succeeded/g)?.length, 8);
  });

  test('a recovery is sent at once outside the window, and never for failures nobody was told of', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * minute } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    await w.worker('a');
    await runOnce(w, 'FAILED');
    w.clock.advance(20 * minute);
    await runOnce(w, 'SUCCEEDED');
    assert.deepEqual(
      w.mailer.sent.map((m) => m.subject),
      ['[Clover] Job report failed', '[Clover] Job report recovered'],
    );

    // A contact who takes only recoveries never heard of the failure: the recovery is not sent.
    const quiet = alertingWorld({ leaseMs: 3_600_000 });
    await quiet.contacts.create({
      contactId: 'owner',
      name: 'Owner',
      email: 'owner@example.com',
      alertKinds: ['recovery'],
    });
    await quiet.job();
    await quiet.worker('a');
    await runOnce(quiet, 'FAILED');
    await runOnce(quiet, 'SUCCEEDED');
    assert.equal(quiet.mailer.sent.length, 0);
    const recovery = [...quiet.alertStore.records.values()].find((r) => r.kind === 'recovery');
    assert.equal(recovery?.status, 'SUPPRESSED');
    assert.match(recovery?.reason ?? '', /no failure of this job was notified/);
  });

  test("recipients: the job's contacts and its group's subscribers that chose the kind, once each", async () => {
    const w = alertingWorld();
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'Owner@example.com' });
    await w.contacts.create({
      contactId: 'dup',
      name: 'Same person',
      email: 'owner@example.com',
      groups: ['billing'],
    });
    await w.contacts.create({ contactId: 'sub', name: 'Sub', email: 'sub@example.com', groups: ['billing'] });
    await w.contacts.create({
      contactId: 'quiet',
      name: 'Only recoveries',
      email: 'quiet@example.com',
      groups: ['billing'],
      alertKinds: ['recovery'],
    });
    await w.job({ contacts: ['owner', 'ghost'], group: 'billing' });
    await w.alerts.raise({
      kind: 'lost',
      jobId: 'report',
      runId: 'r1',
      message: 'worker w lost',
      at: w.clock.now(),
    });
    await w.notifyAll();
    assert.deepEqual(w.mailer.sent[0]?.to, ['Owner@example.com', 'sub@example.com']);
    const record = [...w.alertStore.records.values()][0]!;
    assert.equal(record.status, 'SENT');
    assert.match(record.reason ?? '', /unknown contact ids: ghost/);
  });

  test('no recipients: the alert is SUPPRESSED with the reason, not dropped', async () => {
    const w = alertingWorld();
    await w.job({ contacts: ['ghost'] });
    await w.alerts.raise({ kind: 'timeout', jobId: 'report', message: 'late', at: w.clock.now() });
    await w.notifyAll();
    const record = [...w.alertStore.records.values()][0]!;
    assert.equal(record.status, 'SUPPRESSED');
    assert.match(record.reason ?? '', /no recipients.*unknown contact ids: ghost/);
  });

  test('an SES rejection is recorded FAILED with its reason and retried by policy, then left FAILED', async () => {
    const w = alertingWorld({ notifier: { from: 'unverified@example.com', maxAttempts: 3 } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    await w.alerts.raise({
      kind: 'failure',
      jobId: 'report',
      runId: 'r1',
      message: 'boom',
      at: w.clock.now(),
    });
    const [message] = w.queue.take();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await w.notifier.process(message!, { redelivered: i > 0 }));
    assert.deepEqual(
      results.map((r) => [r.outcome, r.retry]),
      [
        ['failed', true],
        ['failed', true],
        ['gave_up', false],
        ['gave_up', false],
      ],
    );
    const record = (await w.alertStore.get(message!.alertId))!;
    assert.equal(record.status, 'FAILED');
    assert.equal(record.attempts, 3);
    assert.match(
      record.reason ?? '',
      /gave up after 3 attempts: SES rejected the message: Email address not verified/,
    );
    // Once the sender is verified, the retried alert goes out (the window is still its own).
    w.mailer.verified.add('unverified@example.com');
    const w2 = (await w.alertStore.update(message!.alertId, {
      from: ['FAILED'],
      status: 'FAILED',
      at: 1,
      attempts: 1,
    }))!;
    assert.equal((await w.notifier.process({ alertId: w2.alertId })).outcome, 'sent');
  });

  test('a silence records the alerts it covers SILENCED, sends nothing, and ends when it ends', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * minute } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    const end = w.clock.now() + 10 * minute;
    const silence = {
      silenceId: 's-1',
      jobId: 'report',
      createdAt: w.clock.now(),
      endsAt: end,
      createdBy: 'ana',
    };
    await w.alertStore.addSilence(silence, w.clock.now());
    await w.alertStore.addSilence({ ...silence, silenceId: 's-2', jobId: 'other' }, w.clock.now());
    const raise = (kind: 'failure' | 'timeout') =>
      w.alerts.raise({
        kind,
        jobId: 'report',
        runId: `r-${w.clock.now()}`,
        message: kind,
        at: w.clock.now(),
      });
    await raise('failure');
    await raise('timeout');
    await w.notifyAll();
    assert.equal(w.mailer.sent.length, 0);
    const silenced = [...w.alertStore.records.values()];
    assert.deepEqual(
      silenced.map((r) => [r.status, r.silencedBy]),
      [
        ['SILENCED', 's-1'],
        ['SILENCED', 's-1'],
      ],
    );
    assert.match(
      silenced[0]!.reason ?? '',
      /^silenced until 2026-01-30T10:10:00Z by ana \(job report; silence s-1\)$/,
    );
    // A silence of one kind leaves the others alone; an ended silence silences nothing.
    await w.alertStore.removeSilence('s-1');
    await w.alertStore.addSilence(
      { ...silence, silenceId: 's-3', jobId: undefined, kind: 'timeout' },
      w.clock.now(),
    );
    await raise('failure');
    await raise('timeout');
    await w.notifyAll();
    assert.deepEqual(
      w.mailer.sent.map((m) => m.subject),
      ['[Clover] Job report failed'],
    );
    w.clock.advance(11 * minute);
    await raise('timeout');
    await w.notifyAll();
    assert.equal(w.mailer.sent.length, 2);
    assert.match(w.mailer.sent[1]!.subject, /timed out/);
  });

  test('an acknowledged alert stops: a retry after an SES rejection, a digest at its window end', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * minute } });
    await w.contacts.create({ contactId: 'owner', name: 'Owner', email: 'owner@example.com' });
    await w.job();
    w.mailer.verified.clear();
    await w.alerts.raise({
      kind: 'failure',
      jobId: 'report',
      runId: 'r1',
      message: 'boom',
      at: w.clock.now(),
    });
    const [message] = w.queue.take();
    assert.deepEqual((await w.notifier.process(message!)).outcome, 'failed');
    await w.alertStore.acknowledge(message!.alertId, { at: w.clock.now(), by: 'ana' });
    w.mailer.verified.add('clover@example.com');
    assert.deepEqual(await w.notifier.process(message!, { redelivered: true }), {
      outcome: 'acknowledged',
      retry: false,
      reason: 'acknowledged by ana at 2026-01-30T10:00:00Z before it was sent',
    });
    assert.equal((await w.alertStore.get(message!.alertId))?.status, 'SUPPRESSED');
    assert.equal(w.mailer.sent.length, 0);
    // Failures inside a window fold into a digest; acknowledging the digest keeps it from being mailed.
    w.clock.advance(20 * minute);
    for (let i = 0; i < 3; i++) {
      await w.alerts.raise({
        kind: 'failure',
        jobId: 'report',
        runId: `r${i}`,
        message: 'boom',
        at: w.clock.now(),
      });
      await w.notifyAll();
    }
    const digest = [...w.alertStore.records.values()].find((r) => r.digest)!;
    await w.alertStore.acknowledge(digest.alertId, { at: w.clock.now(), by: 'ana' });
    w.clock.advance(15 * minute);
    await w.notifyAll();
    assert.deepEqual(
      w.mailer.sent.map((m) => m.subject),
      ['[Clover] Job report failed'],
    );
    assert.equal((await w.alertStore.get(digest.alertId))?.status, 'SUPPRESSED');
  });

  test('an unknown alert id is dropped with a warning', async () => {
    const w = alertingWorld();
    assert.deepEqual(await w.notifier.process({ alertId: 'nope' }), { outcome: 'missing', retry: false });
  });
});

describe('ContactService', () => {
  test('rejects an invalid email naming the field, and unknown ids with NotFoundError', async () => {
    const w = alertingWorld();
    await assert.rejects(
      w.contacts.create({ contactId: 'x', name: 'X', email: 'not-an-address' }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(
          error.issues.map((i) => i.field),
          ['email'],
        );
        return true;
      },
    );
    await assert.rejects(w.contacts.get('nobody'), NotFoundError);
    await assert.rejects(w.contacts.update('nobody', { name: 'n' }), NotFoundError);
    await assert.rejects(w.contacts.delete('nobody'), NotFoundError);
    await assert.rejects(
      w.contacts.create({ contactId: 'x', name: 'X', email: 'x@example.com', alertKinds: ['bogus'] }),
      ValidationError,
    );
  });

  test('creates, updates (validated), lists and deletes', async () => {
    const w = alertingWorld();
    const created = await w.contacts.create({ contactId: 'x', name: 'X', email: 'x@example.com' });
    assert.deepEqual(created.alertKinds, [...AlertKinds], 'every kind by default');
    const updated = await w.contacts.update('x', { alertKinds: ['failure'], groups: ['billing'] });
    assert.deepEqual(updated.alertKinds, ['failure']);
    await assert.rejects(w.contacts.update('x', { email: 'broken' }), ValidationError);
    assert.deepEqual(
      (await w.contacts.list()).map((c) => c.contactId),
      ['x'],
    );
    await w.contacts.delete('x');
    assert.deepEqual(await w.contacts.list(), []);
  });
});
