/**
 * Bad input changes nothing (invariant 7), through real HTTP: 1,000 random and malformed job-create
 * bodies from a seeded generator get zero 500s, each a specific code, and leave no job, schedule or
 * audit record behind. And optimistic concurrency: two updates at one version, one wins, the other
 * gets 409, and the EventBridge schedule is the winner's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloverApiError } from '../../core/api/client';
import { API_LIMITS } from '../../core/api/schemas';
import { MAX_PAYLOAD_BYTES } from '../../core/model';
import { seeded } from '../../core/testing/seeded';
import { useApi } from './helpers';

const api = useApi();

const SEED = 1207;

function nested(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

/** One invalid body: a valid spec with one thing broken, or something that is not a spec at all. */
function badBody(random: () => number, i: number): { body: unknown; raw?: string } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const jobId = `fz-${i}`;
  const base: Record<string, unknown> = {
    jobId,
    handler: 'reports.daily',
    schedule: { expression: 'rate(5 minutes)', timezone: 'UTC' },
  };
  // Per field, values of the wrong type or outside its range.
  const wrong: Readonly<Record<string, readonly unknown[]>> = {
    jobId: [42, true, [], {}, null, '', ' spaces ', '-leading'],
    handler: [42, false, [], {}, null, '', 'rm -rf /', '1abc'],
    description: [42, true, [], {}, ['a']],
    schedule: [42, 'rate(5 minutes)', [], true, { expression: 5 }, { timezone: 'UTC' }],
    mode: ['remote', 'NOPE', 1, null, []],
    delivery: ['HTTP', 0, true, {}],
    target: ['default', 7, [], { pool: 5 }, { workerIds: 'w1' }, { labels: [] }],
    routing: ['STICKY', 3, null, {}],
    concurrency: ['FORBID', { policy: 'NEVER' }, { maxQueued: 0 }, { maxQueued: 1.5 }],
    misfire: ['SKIP', { policy: 'LATER' }, { windowSeconds: -1 }],
    retry: [
      3,
      { maxAttempts: 0 },
      { maxAttempts: 21 },
      { backoffSeconds: 'x' },
      { maxAttempts: 2, backoffSeconds: 100, maxBackoffSeconds: 10 },
    ],
    timeoutSeconds: [0, -5, 1.5, '60', null, 8 * 24 * 3600],
    recoverOnWorkerLoss: ['yes', 1, null, []],
    contacts: ['ops', [1], [''], [null], {}],
    group: [5, '', [], '-x'],
    paused: ['false', 0, null, {}],
  };
  switch (Math.floor(random() * 12)) {
    case 0: {
      const field = pick(Object.keys(wrong));
      return { body: { ...base, [field]: pick(wrong[field]!) } };
    }
    case 1:
      return {
        body: { ...base, [pick(['command', 'script', 'exec', '__proto__x', 'Handler', 'job_id'])]: 'x' },
      };
    case 2:
      return { body: { ...base, target: { pool: 'default', shell: '/bin/sh' } } };
    case 3: {
      // Just over each limit (ids 64, handler names 128), or far over.
      const field = pick(['jobId', 'handler', 'group']);
      const limit = field === 'handler' ? 128 : 64;
      return { body: { ...base, [field]: 'a'.repeat(limit + 1 + Math.floor(random() * 5000)) } };
    }
    case 4:
      return { body: { ...base, description: 'd'.repeat(1025 + Math.floor(random() * 100_000)) } };
    case 5:
      return {
        body: {
          ...base,
          [pick(['handler', 'target', 'retry', 'description'])]: nested(20 + Math.floor(random() * 400)),
        },
      };
    case 6:
      return {
        body: {
          ...base,
          schedule: {
            expression: pick([
              'cron(bogus)',
              'cron(0 10 1 * MON *)',
              'cron(0 10 ? * 8 *)',
              'rate(30 seconds)',
              'rate(0 minutes)',
              'rate(5 fortnights)',
              '*/10 * * * * ?',
              'at(2026-13-01T00:00:00)',
              'every day',
              '',
              'cron(* * * * * * * *)',
            ]),
          },
        },
      };
    case 7:
      return {
        body: {
          ...base,
          schedule: {
            expression: 'rate(5 minutes)',
            timezone: pick(['Mars/Olympus', 'UTC+25', 'Europe/Londres', '', 'a'.repeat(300), 'GMT-99']),
          },
        },
      };
    case 8:
      return {
        body: {
          ...base,
          schedule: {
            expression: 'rate(5 minutes)',
            startDate: pick(['yesterday', '2026-02-30T00:00:00Z', 'x']),
          },
        },
      };
    case 9:
      return { body: { ...base, payload: 'p'.repeat(MAX_PAYLOAD_BYTES + 1 + Math.floor(random() * 1000)) } };
    case 10:
      return { body: pick([null, 42, 'job', [base], [], true]) };
    default:
      return {
        body: undefined,
        raw: pick([
          '{',
          '{"jobId": "fz"',
          "{'jobId': 'fz'}",
          `{"jobId": "${jobId}", "handler": }`,
          'null null',
          `{"jobId":"${jobId}","handler":"h","description":"${'z'.repeat(API_LIMITS.maxBodyBytes + 10)}"}`,
          '\u0000\u0001',
        ]),
      };
  }
}

test('1,000 random and malformed job-create bodies: zero 500s, a specific code each, nothing written', async () => {
  await api.ready();
  const random = seeded(SEED);
  const admin = api.as('admin');
  const codes = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const { body, raw } = badBody(random, i);
    try {
      await admin.request('POST', '/api/jobs', raw ?? JSON.stringify(body));
      assert.fail(`body #${i} (seed ${SEED}) was accepted: ${(raw ?? JSON.stringify(body)).slice(0, 200)}`);
    } catch (error) {
      if (!(error instanceof CloverApiError)) throw error;
      assert.ok(
        error.status < 500,
        `body #${i} (seed ${SEED}) got ${error.status} ${error.code}: ${error.message}`,
      );
      assert.ok(
        ['VALIDATION_FAILED', 'INVALID_SCHEDULE', 'PAYLOAD_TOO_LARGE'].includes(error.code),
        `body #${i}: ${error.code}`,
      );
      if (error.status === 400) assert.ok(error.fields.length > 0, `body #${i} names its fields`);
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
  }
  assert.ok((codes.get('VALIDATION_FAILED') ?? 0) > 300, JSON.stringify([...codes]));
  assert.ok((codes.get('INVALID_SCHEDULE') ?? 0) > 50, JSON.stringify([...codes]));
  assert.ok((codes.get('PAYLOAD_TOO_LARGE') ?? 0) > 30, JSON.stringify([...codes]));

  // Nothing written: no job, no schedule, no audit record.
  assert.deepEqual(
    (await api.plane.jobs.list()).filter((j) => j.spec.jobId.startsWith('fz')),
    [],
  );
  assert.deepEqual(
    (await api.plane.schedules.list()).filter((s) => s.jobId.startsWith('fz')),
    [],
  );
  const audit = await admin.call('listAudit', { query: { limit: 200 } });
  assert.deepEqual(
    audit.items.filter((a) => a.entity.startsWith('job:fz')),
    [],
  );
});

test('two concurrent updates at one version: one 200, one 409, and the schedule is the winner’s', async () => {
  await api.ready();
  const admin = api.as('admin');
  const jobId = 'race';
  await admin.call('createJob', {
    body: { jobId, handler: 'reports.daily', schedule: { expression: 'rate(5 minutes)' } },
  });
  for (let round = 0; round < 3; round++) {
    const version = (await admin.call('getJob', { params: { jobId } })).version;
    const expressions = [`rate(${11 + round * 2} minutes)`, `rate(${12 + round * 2} minutes)`];
    const results = await Promise.allSettled(
      expressions.map((expression) =>
        admin.call('updateJob', {
          params: { jobId },
          body: { version, spec: { jobId, handler: 'reports.daily', schedule: { expression } } },
        }),
      ),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    assert.equal(won.length, 1, `round ${round}: exactly one update wins`);
    assert.equal(lost.length, 1);
    assert.ok(lost[0] instanceof CloverApiError);
    assert.equal(lost[0].status, 409);
    assert.equal(lost[0].code, 'VERSION_CONFLICT');
    const winner = expressions[won[0]!]!;
    const job = await admin.call('getJob', { params: { jobId } });
    assert.equal(job.version, version + 1);
    assert.equal(job.spec.schedule?.expression, winner);
    assert.equal((await api.plane.schedules.get(jobId))?.expression, winner);
  }
  // One audit record per accepted change: the create and three winning updates, none for the losers.
  const audit = await admin.call('listAudit', { query: { entity: `job:${jobId}` } });
  assert.deepEqual(
    audit.items.map((a) => a.action),
    ['job.update', 'job.update', 'job.update', 'job.create'],
  );
  const latest = audit.items[0]!;
  assert.equal(latest.actor.subject, 'admin-user');
  assert.equal((latest.after as { version: number }).version, 4);
  assert.equal((latest.before as { version: number }).version, 3);
});
