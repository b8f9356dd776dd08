/**
 * Defining jobs on the emulator: valid specs become a job and its EventBridge schedule; invalid ones
 * are rejected naming the field and the reason, and nothing is written (invariant 7).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { ValidationError, VersionConflictError } from '../../core/errors';
import { MAX_PAYLOAD_BYTES } from '../../core/model';
import { useEmulator } from '../harness';

const aws = useEmulator();

const invalid: ReadonlyArray<readonly [string, Record<string, unknown>, string, RegExp]> = [
  ['bogus cron', { schedule: { expression: 'cron(bogus)' } }, 'schedule.expression', /6 fields/],
  ['both day fields set', { schedule: { expression: 'cron(0 10 1 * MON *)' } }, 'schedule.expression', /\?/],
  [
    'day-of-week out of range',
    { schedule: { expression: 'cron(0 10 ? * 8 *)' } },
    'schedule.expression',
    /1-7/,
  ],
  ['rate under a minute', { schedule: { expression: 'rate(30 seconds)' } }, 'schedule.expression', /LOCAL/],
  ['quartz seconds', { schedule: { expression: '*/10 * * * * ?' } }, 'schedule.expression', /LOCAL/],
  [
    'unknown time zone',
    { schedule: { expression: 'rate(5 minutes)', timezone: 'Mars/Olympus' } },
    'schedule.timezone',
    /IANA|time zone/,
  ],
  [
    'end before start',
    {
      schedule: {
        expression: 'rate(5 minutes)',
        startDate: '2026-02-01T00:00:00Z',
        endDate: '2026-01-01T00:00:00Z',
      },
    },
    'schedule.endDate',
    /after/,
  ],
  ['bad handler name', { handler: 'rm -rf /' }, 'handler', /letters/],
  ['oversized payload', { payload: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) }, 'payload', /at most/],
  ['unknown routing', { routing: 'STICKY' }, 'routing', /./],
  ['unknown field', { command: '/bin/sh' }, 'command', /not a known field/],
  ['zero timeout', { timeoutSeconds: 0 }, 'timeoutSeconds', /./],
  ['negative retries', { retry: { maxAttempts: 0 } }, 'retry.maxAttempts', /./],
  ['env: a bad name', { env: { 'NOT-A-NAME': 'x' } }, 'env.NOT-A-NAME', /valid environment variable name/],
  ['env: a CLOVER_* name', { env: { CLOVER_RUN_ID: 'spoof' } }, 'env.CLOVER_RUN_ID', /set by Clover/],
  ['env: a code loader', { env: { LD_PRELOAD: '/tmp/x.so' } }, 'env.LD_PRELOAD', /reserved/],
  ['env: PATH', { env: { PATH: '/tmp' } }, 'env.PATH', /reserved/],
  ['env: a value too long', { env: { BIG: 'x'.repeat(4097) } }, 'env.BIG', /at most 4096/],
  ['env: not a string', { env: { N: 3 } }, 'env.N', /string/],
  [
    'env: too many',
    { env: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`V${i}`, 'x'])) },
    'env',
    /at most 50 variables/,
  ],
];

test('invalid job specs are rejected naming the field, and nothing is written', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  for (const [name, patch, field, reason] of invalid) {
    await assert.rejects(
      plane.jobService.define({ jobId: 'bad', handler: 'reports.daily', ...patch }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError, `${name}: ${String(error)}`);
        const issue = error.issues.find((i) => i.field === field);
        assert.ok(issue, `${name}: expected an issue on ${field}, got ${JSON.stringify(error.issues)}`);
        assert.match(issue.reason, reason, name);
        return true;
      },
    );
  }
  assert.deepEqual(await plane.jobs.list(), []);
  assert.deepEqual(await plane.schedules.list(), []);
});

test('a valid job gets its schedule in the normalized EventBridge form; updates are versioned', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const job = await plane.jobService.define({
    jobId: 'weekday-report',
    handler: 'reports.daily',
    schedule: { expression: '30 9 * * 1-5', timezone: 'America/New_York' },
  });
  assert.equal(job.version, 1);
  assert.equal(job.syncState, 'IN_SYNC');
  const schedule = await plane.schedules.get('weekday-report');
  assert.equal(schedule?.expression, 'cron(30 9 ? * MON-FRI *)');
  assert.equal(schedule?.timezone, 'America/New_York');

  const updated = await plane.jobService.define({ ...job.spec, schedule: { expression: 'rate(2 hours)' } });
  assert.equal(updated.version, 2);
  assert.equal((await plane.schedules.get('weekday-report'))?.expression, 'rate(2 hours)');
  await assert.rejects(
    plane.jobService.define({ ...job.spec, paused: true }, { expectedVersion: 1 }),
    VersionConflictError,
  );
  assert.equal((await plane.jobs.get('weekday-report'))?.spec.paused, false);
});
