import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyAcknowledgedError, AlreadyExistsError, NotFoundError } from '../../errors';
import { type AlertRecord, AlertRecordSchema, MAX_DIGEST_ENTRIES, type Silence } from '../../model';
import type { AlertStore } from '../../ports';
import { T0, uniqueId } from './fixtures';

export function sampleAlert(overrides: Partial<AlertRecord> = {}): AlertRecord {
  const jobId = overrides.jobId ?? uniqueId('job');
  return AlertRecordSchema.parse({
    alertId: uniqueId('alert'),
    kind: 'failure',
    jobId,
    runId: `${jobId}@2026-01-30T10:00:00Z`,
    message: 'attempt 1 failed: boom',
    createdAt: T0,
    updatedAt: T0,
    status: 'PENDING',
    attempts: 0,
    recipients: [],
    ...overrides,
  });
}

/** The AlertStore contract: records with conditional status changes, silence windows, digests and flags. */
export function alertStoreContract(name: string, makeSubject: () => Promise<{ alerts: AlertStore }>): void {
  describe(`AlertStore contract: ${name}`, () => {
    it('creates a record once and reads it back', async () => {
      const { alerts } = await makeSubject();
      const record = sampleAlert();
      await alerts.create(record);
      assert.deepEqual(await alerts.get(record.alertId), record);
      await assert.rejects(alerts.create(record), AlreadyExistsError);
      assert.equal(await alerts.get(uniqueId('missing')), null);
    });

    it('changes status only from the expected ones, keeping the provider reason', async () => {
      const { alerts } = await makeSubject();
      const record = sampleAlert();
      await alerts.create(record);
      const failed = await alerts.update(record.alertId, {
        from: ['PENDING', 'FAILED'],
        status: 'FAILED',
        at: T0 + 1,
        reason: 'SES rejected the message: Email address not verified',
        attempts: 1,
        recipients: ['ops@example.com'],
      });
      assert.equal(failed?.status, 'FAILED');
      assert.equal(failed?.attempts, 1);
      assert.match(failed?.reason ?? '', /not verified/);
      assert.deepEqual(failed?.recipients, ['ops@example.com']);
      const sent = await alerts.update(record.alertId, {
        from: ['PENDING', 'FAILED'],
        status: 'SENT',
        at: T0 + 2,
        attempts: 2,
        messageId: 'm-1',
        sentAt: T0 + 2,
      });
      assert.equal(sent?.status, 'SENT');
      assert.equal(sent?.messageId, 'm-1');
      assert.equal(sent?.updatedAt, T0 + 2);
      assert.equal(
        await alerts.update(record.alertId, { from: ['PENDING', 'FAILED'], status: 'FAILED', at: T0 + 3 }),
        null,
      );
      assert.equal((await alerts.get(record.alertId))?.status, 'SENT');
      await assert.rejects(
        alerts.update(uniqueId('missing'), { from: ['PENDING'], status: 'SENT', at: T0 }),
        NotFoundError,
      );
    });

    it("lists a job's alerts newest first, and no one else's", async () => {
      const { alerts } = await makeSubject();
      const jobId = uniqueId('job');
      for (const [i, at] of [T0, T0 + 2000, T0 + 1000].entries()) {
        await alerts.create(sampleAlert({ jobId, alertId: `${jobId}-a${i}`, createdAt: at, updatedAt: at }));
      }
      await alerts.create(sampleAlert());
      const listed = await alerts.listByJob(jobId);
      assert.deepEqual(
        listed.map((r) => r.createdAt),
        [T0 + 2000, T0 + 1000, T0],
      );
      assert.equal((await alerts.listByJob(jobId, { limit: 1 })).length, 1);
    });

    it('opens one silence window per job and kind at a time, and again once it ended', async () => {
      const { alerts } = await makeSubject();
      const jobId = uniqueId('job');
      const first = await alerts.openWindow(jobId, 'failure', 'a1', T0, 60_000);
      assert.deepEqual(first, {
        jobId,
        kind: 'failure',
        openedBy: 'a1',
        openedAt: T0,
        endsAt: T0 + 60_000,
        opened: true,
      });
      const second = await alerts.openWindow(jobId, 'failure', 'a2', T0 + 1000, 60_000);
      assert.equal(second.opened, false);
      assert.equal(second.openedBy, 'a1');
      assert.equal(second.endsAt, T0 + 60_000);
      assert.equal((await alerts.openWindow(jobId, 'failure', 'a1', T0 + 2000, 60_000)).opened, true);
      assert.equal((await alerts.openWindow(jobId, 'timeout', 'a3', T0 + 1000, 60_000)).opened, true);
      const later = await alerts.openWindow(jobId, 'failure', 'a4', T0 + 60_000, 60_000);
      assert.equal(later.opened, true);
      assert.equal(later.endsAt, T0 + 120_000);
    });

    it('folds alerts into one digest, creating it on the first fold and capping its entries', async () => {
      const { alerts } = await makeSubject();
      const template = sampleAlert({
        alertId: uniqueId('digest'),
        message: 'digest',
        digest: { windowStart: T0, windowEnd: T0 + 60_000, count: 0, entries: [] },
      });
      const total = MAX_DIGEST_ENTRIES + 2;
      let created = 0;
      for (let i = 0; i < total; i++) {
        const out = await alerts.fold(template, {
          alertId: `a${i}`,
          message: `failure ${i}`,
          createdAt: T0 + i,
        });
        if (out.created) created += 1;
        assert.equal(out.digest.digest?.count, i + 1);
      }
      assert.equal(created, 1);
      const stored = await alerts.get(template.alertId);
      assert.equal(stored?.status, 'PENDING');
      assert.equal(stored?.digest?.count, total);
      assert.equal(stored?.digest?.windowEnd, T0 + 60_000);
      assert.equal(stored?.digest?.entries.length, MAX_DIGEST_ENTRIES);
      assert.deepEqual(stored?.digest?.entries[0], { alertId: 'a0', message: 'failure 0', createdAt: T0 });
    });

    it('flags a job for a condition once, until it is cleared', async () => {
      const { alerts } = await makeSubject();
      const condition = uniqueId('cond');
      const jobId = uniqueId('job');
      assert.deepEqual([...(await alerts.flagged(condition))], []);
      assert.equal(await alerts.flag(condition, jobId), true);
      assert.equal(await alerts.flag(condition, jobId), false);
      assert.equal(await alerts.flag(condition, 'other'), true);
      assert.deepEqual([...(await alerts.flagged(condition))].sort(), [jobId, 'other'].sort());
      assert.equal(await alerts.unflag(condition, jobId), true);
      assert.equal(await alerts.unflag(condition, jobId), false);
      assert.deepEqual([...(await alerts.flagged(condition))], ['other']);
      assert.equal(await alerts.flag(condition, jobId), true);
    });

    it('acknowledges an alert once; a second acknowledgement or an unknown id changes nothing', async () => {
      const { alerts } = await makeSubject();
      const record = sampleAlert({ status: 'SENT' });
      await alerts.create(record);
      const acked = await alerts.acknowledge(record.alertId, { at: T0 + 5, by: 'ana', comment: 'on it' });
      assert.deepEqual(acked, { ...record, acknowledgement: { at: T0 + 5, by: 'ana', comment: 'on it' } });
      await assert.rejects(
        alerts.acknowledge(record.alertId, { at: T0 + 6, by: 'bo' }),
        (error: unknown) => error instanceof AlreadyAcknowledgedError && /by ana/.test(error.message),
      );
      assert.deepEqual(await alerts.get(record.alertId), acked);
      const missing = uniqueId('missing');
      await assert.rejects(alerts.acknowledge(missing, { at: T0, by: 'ana' }), NotFoundError);
      assert.equal(await alerts.get(missing), null);
      // The delivery state goes on changing under an acknowledgement, which stays.
      const pending = sampleAlert();
      await alerts.create(pending);
      await alerts.acknowledge(pending.alertId, { at: T0 + 1, by: 'ana' });
      const silenced = await alerts.update(pending.alertId, {
        from: ['PENDING'],
        status: 'SILENCED',
        at: T0 + 2,
        reason: 'silenced',
        silencedBy: 's-1',
      });
      assert.equal(silenced?.silencedBy, 's-1');
      assert.deepEqual(silenced?.acknowledgement, { at: T0 + 1, by: 'ana' });
    });

    it('keeps silences, drops ended ones on the next write, removes one by id', async () => {
      const { alerts } = await makeSubject();
      const mine = (list: Silence[]) => list.filter((s) => s.silenceId.startsWith(prefix));
      const prefix = uniqueId('sil');
      const silence = (n: number, endsAt: number): Silence => ({
        silenceId: `${prefix}-${n}`,
        jobId: 'nightly',
        createdAt: T0,
        endsAt,
        createdBy: 'ana',
      });
      await alerts.addSilence(silence(1, T0 + 1000), T0);
      await alerts.addSilence({ ...silence(2, T0 + 5000), kind: 'failure', comment: 'deploy' }, T0);
      assert.deepEqual(
        mine(await alerts.silences()).map((s) => s.silenceId),
        [`${prefix}-1`, `${prefix}-2`],
      );
      await assert.rejects(alerts.addSilence(silence(2, T0 + 9000), T0), AlreadyExistsError);
      // At T0 + 2000 the first has ended: the next write drops it.
      await alerts.addSilence(silence(3, T0 + 9000), T0 + 2000);
      assert.deepEqual(mine(await alerts.silences()), [
        { ...silence(2, T0 + 5000), kind: 'failure', comment: 'deploy' },
        silence(3, T0 + 9000),
      ]);
      assert.equal(await alerts.removeSilence(`${prefix}-2`), true);
      assert.equal(await alerts.removeSilence(`${prefix}-2`), false);
      assert.deepEqual(mine(await alerts.silences()), [silence(3, T0 + 9000)]);
    });
  });
}
