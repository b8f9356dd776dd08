/** The pure half of `clover jobs apply`: reading a jobs file and planning against what the owner owns. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../core/errors';
import { JobSpecSchema } from '../core/model';
import { computePlan, diffValues, formatPlan, parseJobsFile } from './apply';

const FILE = `
owner: reports
jobs:
  - jobId: nightly
    handler: reports.daily
    schedule: { expression: 'cron(0 2 * * ? *)', timezone: Europe/London }
  - jobId: hourly
    handler: reports.hourly
    schedule: { expression: 'rate(1 hour)' }
`;

/** A stored job as the API answers it. */
function stored(input: Record<string, unknown>, owner?: string) {
  return {
    spec: JobSpecSchema.parse(input),
    version: 3,
    createdAt: 1,
    updatedAt: 2,
    syncState: 'IN_SYNC' as const,
    ...(owner === undefined ? {} : { owner }),
  };
}

describe('parseJobsFile', () => {
  test('reads the owner and fills each spec with its defaults', () => {
    const file = parseJobsFile(FILE, 'x/jobs.yaml');
    assert.equal(file.owner, 'cli:reports');
    assert.deepEqual(
      file.jobs.map((j) => j.jobId),
      ['nightly', 'hourly'],
    );
    assert.equal(file.jobs[0]?.target.pool, 'default');
  });

  test('a bare list takes its owner from --owner, else the file name', () => {
    const list = '- { jobId: a, handler: h }\n';
    assert.equal(parseJobsFile(list, '/etc/clover/nightly-reports.yaml').owner, 'cli:nightly-reports');
    assert.equal(parseJobsFile(list, 'jobs.yaml', 'team-a').owner, 'cli:team-a');
  });

  test('every bad field is named with its path, and nothing else is returned', () => {
    const bad = `
owner: reports
color: blue
jobs:
  - { jobId: ok, handler: h }
  - { jobId: bad, handler: h, schedule: { expression: 'cron(0 10 ? * 8 *)' } }
  - { jobId: ok, handler: h, extra: 1 }
`;
    assert.throws(
      () => parseJobsFile(bad, 'jobs.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        const fields = error.issues.map((i) => i.field);
        assert.ok(fields.includes('color'), fields.join());
        assert.ok(fields.includes('jobs.1.schedule.expression'), fields.join());
        assert.ok(fields.includes('jobs.2.extra'), fields.join());
        return true;
      },
    );
  });

  test('a job id twice, a clashing --owner and a bad owner name are rejected', () => {
    const twice = '- { jobId: a, handler: h }\n- { jobId: a, handler: g }\n';
    assert.throws(() => parseJobsFile(twice, 'j.yaml'), /jobs\.1\.jobId|also jobs\.0/);
    assert.throws(
      () => parseJobsFile(FILE, 'jobs.yaml', 'other'),
      (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.field === 'owner'),
    );
    assert.throws(
      () => parseJobsFile('- { jobId: a, handler: h }\n', 'my jobs!.yaml'),
      (e: unknown) => e instanceof ValidationError && e.issues.some((i) => i.field === 'owner'),
    );
    assert.throws(() => parseJobsFile('jobs: [', 'j.yaml'), /not valid YAML/);
  });
});

describe('computePlan', () => {
  const file = parseJobsFile(FILE, 'jobs.yaml');

  test('nothing stored: everything is created', () => {
    const plan = computePlan({ file, owned: [], others: [], prune: false });
    assert.deepEqual(
      plan.entries.map((e) => `${e.action} ${e.jobId}`),
      ['create nightly', 'create hourly'],
    );
    assert.equal(plan.changes, true);
    assert.equal(plan.declared.length, 2);
  });

  test('the same content stored is unchanged, even reordered or spelled with defaults, and even when paused', () => {
    const owned = [
      stored(
        {
          jobId: 'hourly',
          handler: 'reports.hourly',
          schedule: { expression: 'rate(1 hour)', timezone: 'UTC' },
        },
        'cli:reports',
      ),
      stored(
        {
          handler: 'reports.daily',
          jobId: 'nightly',
          paused: true,
          schedule: { timezone: 'Europe/London', expression: 'cron(0 2 * * ? *)' },
        },
        'cli:reports',
      ),
    ];
    const plan = computePlan({ file, owned, others: [], prune: true });
    assert.deepEqual(
      plan.entries.map((e) => e.action),
      ['unchanged', 'unchanged'],
    );
    assert.equal(plan.changes, false);
  });

  test('an update lists exactly the changed fields', () => {
    const owned = [
      stored(
        {
          jobId: 'nightly',
          handler: 'reports.daily',
          schedule: { expression: 'cron(0 3 * * ? *)', timezone: 'Europe/London' },
          timeoutSeconds: 60,
        },
        'cli:reports',
      ),
      stored(
        { jobId: 'hourly', handler: 'reports.hourly', schedule: { expression: 'rate(1 hour)' } },
        'cli:reports',
      ),
    ];
    const plan = computePlan({ file, owned, others: [], prune: false });
    const update = plan.entries[0];
    assert.equal(update?.action, 'update');
    assert.deepEqual(update?.action === 'update' ? update.changes : [], [
      { path: 'schedule.expression', before: 'cron(0 3 * * ? *)', after: 'cron(0 2 * * ? *)' },
      { path: 'timeoutSeconds', before: 60, after: 3600 },
    ]);
  });

  test('owned jobs missing from the file are kept without --prune (and sent back as they are), deleted with it', () => {
    const gone = stored({ jobId: 'weekly', handler: 'reports.weekly' }, 'cli:reports');
    const kept = computePlan({ file, owned: [gone], others: [], prune: false });
    assert.deepEqual(
      kept.entries.map((e) => `${e.action} ${e.jobId}`),
      ['create nightly', 'create hourly', 'keep weekly'],
    );
    assert.deepEqual(
      kept.declared.map((s) => s.jobId),
      ['nightly', 'hourly', 'weekly'],
    );
    const pruned = computePlan({ file, owned: [gone], others: [], prune: true });
    assert.deepEqual(
      pruned.entries.map((e) => `${e.action} ${e.jobId}`),
      ['create nightly', 'create hourly', 'delete weekly'],
    );
    assert.deepEqual(
      pruned.declared.map((s) => s.jobId),
      ['nightly', 'hourly'],
    );
    assert.equal(pruned.counts.delete, 1);
  });

  test('a job id held by another owner, or by none, is a conflict', () => {
    const plan = computePlan({
      file,
      owned: [],
      others: [
        stored({ jobId: 'nightly', handler: 'x' }, 'agent:batch:batch'),
        stored({ jobId: 'hourly', handler: 'x' }),
      ],
      prune: false,
    });
    assert.deepEqual(
      plan.entries.map((e) => e.action),
      ['conflict', 'conflict'],
    );
    const text = formatPlan(plan).join('\n');
    assert.match(text, /! conflict\s+nightly .*owned by agent:batch:batch/);
    assert.match(text, /! conflict\s+hourly .*not created by an apply/);
  });

  test('the printed plan: a sign per job, changed fields under updates, totals last', () => {
    const owned = [
      stored(
        { jobId: 'hourly', handler: 'reports.hourly', schedule: { expression: 'rate(2 hours)' } },
        'cli:reports',
      ),
      stored({ jobId: 'weekly', handler: 'reports.weekly' }, 'cli:reports'),
    ];
    const lines = formatPlan(computePlan({ file, owned, others: [], prune: true }));
    assert.deepEqual(lines, [
      'Plan for owner cli:reports:',
      '+ create    nightly',
      '~ update    hourly',
      '      schedule.expression: "rate(2 hours)" → "rate(1 hour)"',
      '- delete    weekly',
      '1 to create, 1 to update, 1 to delete, 0 unchanged.',
    ]);
  });
});

test('diffValues: nested paths, absent equals undefined, arrays compared whole', () => {
  assert.deepEqual(diffValues({ a: { b: 1, c: undefined } }, { a: { b: 1 } }), []);
  assert.deepEqual(diffValues({ t: { labels: {} } }, { t: { labels: { env: 'prod' } } }), [
    { path: 't.labels.env', before: undefined, after: 'prod' },
  ]);
  assert.deepEqual(diffValues({ ids: ['a', 'b'] }, { ids: ['b', 'a'] }), [
    { path: 'ids', before: ['a', 'b'], after: ['b', 'a'] },
  ]);
  assert.deepEqual(diffValues({ s: null }, { s: { expression: 'rate(1 hour)' } }), [
    { path: 's', before: null, after: { expression: 'rate(1 hour)' } },
  ]);
});
