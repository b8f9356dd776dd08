/**
 * `clover jobs apply` through real HTTP against the real API served by the local runtime on the
 * emulator: applying a file twice changes nothing the second time (no write, no version bump, no
 * audit record); an edit is one update naming the changed field; removing a job and applying with
 * --prune deletes exactly that job; jobs the file does not own are never touched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CliStack, useCliStack } from './helpers';

const cli = useCliStack();

const JOB = (id: string, expression: string) => [
  `  - jobId: ${id}`,
  '    handler: reports.build',
  `    schedule: { expression: "${expression}", timezone: Europe/London }`,
  '    payload: { team: finance }',
];

const FILE_V1 = [
  'owner: nightly',
  'jobs:',
  ...JOB('apply-a', 'cron(0 2 * * ? *)'),
  ...JOB('apply-b', 'cron(0 3 * * ? *)'),
  ...JOB('apply-c', 'cron(0 4 * * ? *)'),
].join('\n');

async function owned(stack: CliStack) {
  const page = await stack.api.call('listJobs', { query: { owner: 'cli:nightly', limit: 200 } });
  return new Map(page.items.map((j) => [j.spec.jobId, j]));
}

async function auditCount(stack: CliStack): Promise<number> {
  const page = await stack.api.call('listAudit', { query: { limit: 200 } });
  return page.items.length;
}

test('apply creates, then a second apply of the same file changes nothing; --prune deletes exactly the removed job', async () => {
  const stack = await cli.ready();
  // A job made outside any file: apply must never touch it.
  const outside = await stack.clover(
    'jobs',
    'create',
    'apply-outside',
    '--handler',
    'reports.build',
    '--schedule',
    'cron(0 5 * * ? *)',
  );
  assert.equal(outside.code, 0, outside.err);

  const file = await stack.writeFile('jobs.yaml', FILE_V1);
  const first = await stack.clover('jobs', 'apply', '-f', file);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^Plan for owner cli:nightly:$/m);
  assert.equal(first.out.match(/^\+ create\s+apply-[abc]$/gm)?.length, 3, first.out);
  assert.match(first.out, /Applied: 3 created, 0 updated, 0 deleted, 0 unchanged\./);
  const afterFirst = await owned(stack);
  assert.deepEqual([...afterFirst.keys()].sort(), ['apply-a', 'apply-b', 'apply-c']);
  for (const job of afterFirst.values()) {
    assert.equal(job.version, 1);
    assert.equal(job.owner, 'cli:nightly');
  }
  // The schedules exist as the file says (REMOTE jobs are EventBridge schedules).
  assert.equal((await stack.runtime.plane.schedules.get('apply-a'))?.expression, 'cron(0 2 * * ? *)');
  const audits = await auditCount(stack);

  // Second apply, same file: the plan is all unchanged and nothing is written.
  const second = await stack.clover('jobs', 'apply', '-f', file);
  assert.equal(second.code, 0, second.err);
  assert.equal(second.out.match(/^= unchanged\s+apply-[abc]$/gm)?.length, 3, second.out);
  assert.match(second.out, /^No changes\.$/m);
  assert.doesNotMatch(second.out, /^[+~-] /m);
  const afterSecond = await owned(stack);
  for (const [id, job] of afterSecond) {
    assert.equal(job.version, afterFirst.get(id)?.version, `${id} keeps its version`);
    assert.equal(job.updatedAt, afterFirst.get(id)?.updatedAt, `${id} was not rewritten`);
  }
  assert.equal(await auditCount(stack), audits, 'no audit record: nothing changed');

  // An edit: the plan names the changed field; --dry-run writes nothing, then apply updates one job.
  const edited = await stack.writeFile(
    'jobs.yaml',
    FILE_V1.replace('cron(0 3 * * ? *)', 'cron(30 3 * * ? *)'),
  );
  const dry = await stack.clover('jobs', 'apply', '-f', edited, '--dry-run');
  assert.equal(dry.code, 0, dry.err);
  assert.match(
    dry.out,
    /^~ update\s+apply-b\n\s+schedule\.expression: "cron\(0 3 \* \* \? \*\)" → "cron\(30 3 \* \* \? \*\)"$/m,
  );
  assert.match(dry.out, /Dry run: nothing applied\./);
  assert.equal((await owned(stack)).get('apply-b')?.version, 1);
  const update = await stack.clover('jobs', 'apply', '-f', edited);
  assert.equal(update.code, 0, update.err);
  assert.match(update.out, /Applied: 0 created, 1 updated, 0 deleted, 2 unchanged\./);
  assert.equal((await owned(stack)).get('apply-b')?.version, 2);
  assert.equal((await stack.runtime.plane.schedules.get('apply-b'))?.expression, 'cron(30 3 * * ? *)');

  // Remove apply-c from the file. Without --prune it is kept; with --prune exactly it is deleted.
  const withoutC = await stack.writeFile(
    'jobs.yaml',
    FILE_V1.replace('cron(0 3 * * ? *)', 'cron(30 3 * * ? *)').split('  - jobId: apply-c')[0] ?? '',
  );
  const kept = await stack.clover('jobs', 'apply', '-f', withoutC);
  assert.equal(kept.code, 0, kept.err);
  assert.match(kept.out, /^ {2}keep\s+apply-c {2}\(not in the file; --prune deletes it\)$/m);
  assert.match(kept.out, /^No changes\.$/m);
  assert.ok((await owned(stack)).has('apply-c'));
  const before = await owned(stack);
  const pruned = await stack.clover('jobs', 'apply', '-f', withoutC, '--prune');
  assert.equal(pruned.code, 0, pruned.err);
  assert.deepEqual(pruned.out.match(/^- delete\s+\S+$/gm), ['- delete    apply-c']);
  assert.match(pruned.out, /Applied: 0 created, 0 updated, 1 deleted, 2 unchanged\./);
  const afterPrune = await owned(stack);
  assert.deepEqual([...afterPrune.keys()].sort(), ['apply-a', 'apply-b']);
  for (const [id, job] of afterPrune) assert.equal(job.version, before.get(id)?.version, `${id} untouched`);
  assert.equal(await stack.runtime.plane.schedules.get('apply-c'), null, "apply-c's schedule is gone");
  const untouched = await stack.api.call('getJob', { params: { jobId: 'apply-outside' } });
  assert.equal(untouched.version, 1, 'the job made outside the file is untouched');
});

test('a job id owned elsewhere is a conflict: exit 5 and nothing is written', async () => {
  const stack = await cli.ready();
  const created = await stack.clover('jobs', 'create', 'taken-id', '--handler', 'reports.build');
  assert.equal(created.code, 0, created.err);
  const file = await stack.writeFile(
    'team.yaml',
    ['jobs:', ...JOB('team-new', 'cron(0 6 * * ? *)'), ...JOB('taken-id', 'cron(0 7 * * ? *)')].join('\n'),
  );
  const r = await stack.clover('jobs', 'apply', '-f', file);
  assert.equal(r.code, 5, r.out + r.err);
  assert.match(r.out, /^! conflict\s+taken-id .*was not created by an apply/m);
  assert.match(r.out, /Nothing applied/);
  await assert.rejects(stack.api.call('getJob', { params: { jobId: 'team-new' } }), { code: 'NOT_FOUND' });
  assert.equal((await stack.api.call('getJob', { params: { jobId: 'taken-id' } })).version, 1);
});

test('an invalid file names each bad field and exits 2 before any request', async () => {
  const stack = await cli.ready();
  const file = await stack.writeFile(
    'bad.yaml',
    [
      'jobs:',
      '  - jobId: bad one',
      '    handler: reports.build',
      '    schedule: { expression: "cron(0 10 ? * 8 *)" }',
    ].join('\n'),
  );
  const r = await stack.clover('jobs', 'apply', '-f', file);
  assert.equal(r.code, 2, r.out + r.err);
  assert.match(r.err, /^error: VALIDATION_FAILED/m);
  assert.match(r.err, /^ {2}jobs\.0\.jobId: /m);
  assert.match(r.err, /^ {2}jobs\.0\.schedule\.expression: .*day-of-week/m);
});
