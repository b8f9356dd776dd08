/**
 * Declarative job sync on a real AWS emulator: declared jobs land in the DynamoDB jobs table with
 * their owner and EventBridge schedules, changes update them by version, undeclared owned jobs are
 * deleted with their schedules, and jobs created elsewhere are never touched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { JobSpecInput } from '../../core/model';
import { JobOwnershipError, ownerIdFor, syncDeclaredJobs } from '../../worker-agent/job-sync';
import { useEmulator } from '../harness';

const aws = useEmulator();

test('declared jobs are added, updated, deleted by owner; jobs created elsewhere are left alone', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const owner = ownerIdFor({ pool: 'batch', configFile: '/etc/clover/reports.yaml' });
  const sync = (declared: readonly JobSpecInput[]) =>
    syncDeclaredJobs({ jobService: plane.jobService, jobs: plane.jobs, owner, declared });

  const nightly: JobSpecInput = {
    jobId: 'nightly',
    handler: 'report.daily',
    schedule: { expression: 'cron(0 2 * * ? *)', timezone: 'Europe/Paris' },
    target: { pool: 'batch' },
  };
  const ticker: JobSpecInput = {
    jobId: 'ticker',
    handler: 'tick',
    mode: 'LOCAL',
    schedule: { expression: '*/2 * * * * ?' },
    target: { pool: 'batch' },
  };
  await plane.jobService.define({
    jobId: 'by-api',
    handler: 'x',
    schedule: { expression: 'rate(5 minutes)' },
  });

  assert.deepEqual(await sync([nightly, ticker]), {
    added: ['nightly', 'ticker'],
    updated: [],
    deleted: [],
    unchanged: [],
    conflicts: [],
  });
  assert.equal((await plane.jobs.get('nightly'))?.owner, owner);
  assert.equal((await plane.schedules.get('nightly'))?.expression, 'cron(0 2 * * ? *)');
  assert.equal(await plane.schedules.get('ticker'), null, 'a LOCAL job has no EventBridge schedule');

  // Three agents of the same config starting together: nothing changes, nothing conflicts.
  const again = await Promise.all([
    sync([ticker, nightly]),
    sync([ticker, nightly]),
    sync([ticker, nightly]),
  ]);
  for (const result of again) assert.deepEqual(result.unchanged, ['nightly', 'ticker']);
  assert.equal((await plane.jobs.get('nightly'))?.version, 1);

  const changed = await sync([{ ...nightly, schedule: { expression: 'cron(30 3 * * ? *)' } }]);
  assert.deepEqual(changed, {
    added: [],
    updated: ['nightly'],
    deleted: ['ticker'],
    unchanged: [],
    conflicts: [],
  });
  assert.equal((await plane.jobs.get('nightly'))?.version, 2);
  assert.equal((await plane.schedules.get('nightly'))?.expression, 'cron(30 3 * * ? *)');
  assert.equal(await plane.jobs.get('ticker'), null);

  await assert.rejects(sync([nightly, { jobId: 'by-api', handler: 'x' }]), JobOwnershipError);
  const untouched = await plane.jobs.get('by-api');
  assert.equal(untouched?.version, 1);
  assert.equal(untouched?.owner, undefined);
  assert.ok(await plane.schedules.get('by-api'), 'its schedule is still there');
  assert.equal((await plane.jobs.get('nightly'))?.version, 2, 'the failed sync wrote nothing');
});
