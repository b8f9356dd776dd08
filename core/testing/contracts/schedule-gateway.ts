import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScheduleError } from '../../errors';
import type { ScheduleEntry, ScheduleGateway } from '../../ports';
import { uniqueId } from './fixtures';

/** The ScheduleGateway contract: what is upserted reads back the same, including zone and window. */
export function scheduleGatewayContract(
  name: string,
  makeSubject: () => Promise<{ schedules: ScheduleGateway }>,
): void {
  describe(`ScheduleGateway contract: ${name}`, () => {
    it('round-trips upsert, get, list and remove, with time zone and start/end', async () => {
      const { schedules } = await makeSubject();
      const entry: ScheduleEntry = {
        jobId: uniqueId('job'),
        expression: 'cron(0 10 L * ? *)',
        timezone: 'Europe/London',
        startDate: '2030-01-01T00:00:00Z',
        endDate: '2031-06-30T12:30:00Z',
        enabled: true,
      };
      await schedules.upsert(entry);
      assert.deepEqual(await schedules.get(entry.jobId), entry);
      assert.deepEqual(
        (await schedules.list()).find((e) => e.jobId === entry.jobId),
        entry,
      );
      await schedules.remove(entry.jobId);
      assert.equal(await schedules.get(entry.jobId), null);
      assert.ok(!(await schedules.list()).some((e) => e.jobId === entry.jobId));
    });

    it('updates an existing schedule in place (upsert is idempotent)', async () => {
      const { schedules } = await makeSubject();
      const jobId = uniqueId('job');
      await schedules.upsert({ jobId, expression: 'rate(5 minutes)', timezone: 'UTC', enabled: true });
      await schedules.upsert({ jobId, expression: 'rate(5 minutes)', timezone: 'UTC', enabled: true });
      const paused: ScheduleEntry = {
        jobId,
        expression: 'rate(1 hour)',
        timezone: 'America/New_York',
        enabled: false,
      };
      await schedules.upsert(paused);
      assert.deepEqual(await schedules.get(jobId), paused);
      assert.equal((await schedules.list()).filter((e) => e.jobId === jobId).length, 1);
    });

    it('removes and gets absent schedules without error', async () => {
      const { schedules } = await makeSubject();
      const jobId = uniqueId('absent');
      await schedules.remove(jobId);
      assert.equal(await schedules.get(jobId), null);
    });

    it('refuses an expression that is not in EventBridge form', async () => {
      const { schedules } = await makeSubject();
      const jobId = uniqueId('job');
      await assert.rejects(
        schedules.upsert({ jobId, expression: '0 10 * * *', timezone: 'UTC', enabled: true }),
        ScheduleError,
      );
      assert.equal(await schedules.get(jobId), null);
    });
  });
}
