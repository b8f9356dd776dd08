/**
 * The local scheduler clock against the emulator's EventBridge Scheduler: schedules written by the
 * job service are read back through the Scheduler API and fired at their instants on an injected
 * clock, through the real dispatcher handler.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { FireRequest } from '../../core/dispatch';
import { SchedulerClock } from '../../core/scheduler-clock';
import { makeDispatcherHandler } from '../../functions/dispatcher/handler';
import { useEmulator } from '../harness';

const aws = useEmulator();

test('fires rate(1 minute) and cron() schedules at their instants, and a deleted schedule stops firing', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  await plane.jobService.define({
    jobId: 'every-minute',
    handler: 'ping',
    schedule: { expression: 'rate(1 minute)' },
  });
  await plane.jobService.define({
    jobId: 'five-past',
    handler: 'ping',
    schedule: { expression: 'cron(0/5 * * * ? *)', timezone: 'Europe/London' },
  });
  await plane.jobService.define({
    jobId: 'local-only',
    handler: 'ping',
    mode: 'LOCAL',
    schedule: { expression: 'rate(10 seconds)' },
  });

  const dispatch = makeDispatcherHandler({ dispatcher: plane.dispatcher, log: plane.log });
  const fired: FireRequest[] = [];
  const clock = new SchedulerClock({
    schedules: plane.schedules,
    fire: async (request) => {
      fired.push(request);
      return dispatch(request);
    },
    log: plane.log,
  });
  const t0 = Date.parse('2026-07-01T10:02:30Z');
  const firedAt = async (offsetSeconds: number) => {
    fired.length = 0;
    await clock.tick(t0 + offsetSeconds * 1000);
    return fired.map((f) => `${f.jobId} ${f.scheduledTime}`).sort();
  };

  assert.deepEqual(await firedAt(0), [], 'the first tick only learns the schedules');
  assert.deepEqual(await firedAt(59), []);
  assert.deepEqual(await firedAt(60), ['every-minute 2026-07-01T10:03:30Z']);
  assert.deepEqual(await firedAt(150), [
    'every-minute 2026-07-01T10:04:30Z',
    'five-past 2026-07-01T10:05:00Z',
  ]);
  assert.deepEqual(await firedAt(151), []);

  const run = await plane.runs.get('five-past@2026-07-01T10:05:00Z');
  assert.equal(run?.trigger, 'SCHEDULE', 'the fire went through the dispatcher into the ledger');
  assert.equal(run?.status, 'NO_WORKER');

  await plane.jobService.delete('five-past');
  assert.deepEqual(await firedAt(600), [
    'every-minute 2026-07-01T10:05:30Z',
    'every-minute 2026-07-01T10:06:30Z',
    'every-minute 2026-07-01T10:07:30Z',
    'every-minute 2026-07-01T10:08:30Z',
    'every-minute 2026-07-01T10:09:30Z',
    'every-minute 2026-07-01T10:10:30Z',
    'every-minute 2026-07-01T10:11:30Z',
    'every-minute 2026-07-01T10:12:30Z',
  ]);
  assert.equal(await plane.schedules.get('five-past'), null);
  assert.equal(await plane.schedules.get('local-only'), null, 'LOCAL jobs have no EventBridge schedule');
});
