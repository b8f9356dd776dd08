import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../core/errors';
import { JobService } from '../core/jobs';
import { silentLogger } from '../core/log';
import type { Job, JobSpecInput } from '../core/model';
import type { JobStore } from '../core/ports';
import { MemoryJobStore, MemoryScheduleGateway, MemoryWorkerRegistry } from '../core/testing/memory-stores';
import { canonicalJson, JobOwnershipError, ownerIdFor, syncDeclaredJobs } from './job-sync';

const OWNER = 'agent:batch:reports';

function world(jobs: JobStore = new MemoryJobStore()) {
  const store = jobs;
  const schedules = new MemoryScheduleGateway();
  let t = Date.parse('2026-01-30T10:00:00Z');
  const jobService = new JobService({
    jobs: store,
    schedules,
    workers: new MemoryWorkerRegistry(),
    clock: { now: () => (t += 1000) },
    log: silentLogger,
  });
  const sync = (declared: readonly JobSpecInput[], owner = OWNER) =>
    syncDeclaredJobs({ jobService, jobs: store, owner, declared });
  return { jobs: store, schedules, jobService, sync };
}

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
  schedule: { expression: 'rate(2 seconds)' },
  target: { pool: 'batch' },
};

describe('syncDeclaredJobs', () => {
  test('dependencies are checked as a set before any write, and written upstreams first', async () => {
    const w = world();
    const after = (jobId: string) => [{ jobId, on: 'SUCCEEDED' as const }];
    const cycle = [
      { ...nightly, after: after('ticker') },
      { ...ticker, after: after('nightly') },
    ];
    await assert.rejects(w.sync(cycle), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(
        error.message,
        'jobs.0.after: cycle nightly → ticker → nightly; jobs.1.after: cycle ticker → nightly → ticker',
      );
      return true;
    });
    await assert.rejects(
      w.sync([{ ...nightly, after: after('ghost') }]),
      /jobs\.0\.after\.0\.jobId: no job "ghost" exists/,
    );
    assert.deepEqual(await w.jobs.list(), [], 'nothing written');
    // Declared downstream first: still written after its upstream, which it may name.
    const result = await w.sync([{ ...nightly, after: after('ticker') }, ticker]);
    assert.deepEqual(result.added, ['nightly', 'ticker']);
    assert.deepEqual((await w.jobs.get('ticker'))?.downstream, ['nightly']);
  });

  test('adds declared jobs with the owner id, and their EventBridge schedules (REMOTE only)', async () => {
    const w = world();
    const result = await w.sync([nightly, ticker]);
    assert.deepEqual(result, {
      added: ['nightly', 'ticker'],
      updated: [],
      deleted: [],
      unchanged: [],
      conflicts: [],
    });
    const job = await w.jobs.get('nightly');
    assert.equal(job?.owner, OWNER);
    assert.equal(job?.version, 1);
    assert.equal(job?.syncState, 'IN_SYNC');
    assert.equal((await w.schedules.get('nightly'))?.expression, 'cron(0 2 * * ? *)');
    assert.equal(await w.schedules.get('ticker'), null, 'LOCAL jobs have no EventBridge schedule');
  });

  test('the same content, written differently (key order, defaults spelled out), is unchanged', async () => {
    const w = world();
    await w.sync([nightly]);
    const respelled: JobSpecInput = {
      target: { workerIds: [], labels: {}, pool: 'batch' },
      schedule: { timezone: 'Europe/Paris', expression: 'cron(0 2 * * ? *)' },
      handler: 'report.daily',
      concurrency: { policy: 'FORBID' },
      jobId: 'nightly',
      payload: null,
    };
    const result = await w.sync([respelled]);
    assert.deepEqual(result.unchanged, ['nightly']);
    assert.equal((await w.jobs.get('nightly'))?.version, 1, 'nothing written');
  });

  test('a changed job is updated at the next version, and its schedule follows', async () => {
    const w = world();
    await w.sync([nightly]);
    const result = await w.sync([{ ...nightly, schedule: { expression: 'cron(30 3 * * ? *)' } }]);
    assert.deepEqual(result.updated, ['nightly']);
    const job = await w.jobs.get('nightly');
    assert.equal(job?.version, 2);
    assert.equal(job?.owner, OWNER);
    assert.equal((await w.schedules.get('nightly'))?.expression, 'cron(30 3 * * ? *)');
  });

  test('owned jobs no longer declared are deleted; jobs created elsewhere or by another config are never touched', async () => {
    const w = world();
    await w.sync([nightly, ticker]);
    await w.jobService.define({ jobId: 'by-api', handler: 'x', schedule: { expression: 'rate(5 minutes)' } });
    await w.jobService.define({ jobId: 'other-config', handler: 'x' }, { owner: 'agent:batch:other' });
    const result = await w.sync([ticker]);
    assert.deepEqual(result, {
      added: [],
      updated: [],
      deleted: ['nightly'],
      unchanged: ['ticker'],
      conflicts: [],
    });
    assert.equal(await w.jobs.get('nightly'), null);
    assert.equal(await w.schedules.get('nightly'), null, 'schedule removed with it');
    assert.equal((await w.jobs.get('by-api'))?.version, 1);
    assert.ok(await w.schedules.get('by-api'));
    assert.equal((await w.jobs.get('other-config'))?.owner, 'agent:batch:other');
  });

  test('a declared id that exists without this owner is a JobOwnershipError naming the job, and nothing is written', async () => {
    for (const owner of [undefined, 'agent:batch:other']) {
      const w = world();
      await w.jobService.define({ jobId: 'nightly', handler: 'x' }, owner ? { owner } : {});
      await w.sync([]); // an empty declaration owns nothing: deletes nothing
      await assert.rejects(w.sync([ticker, nightly]), (error: unknown) => {
        assert.ok(error instanceof JobOwnershipError);
        assert.equal(error.code, 'already_exists');
        assert.equal(error.jobId, 'nightly');
        assert.equal(error.owner, owner);
        assert.match(error.message, /"nightly"/);
        assert.match(error.message, owner ? /agent:batch:other/ : /outside any agent config/);
        return true;
      });
      assert.equal(await w.jobs.get('ticker'), null, 'the other declared job was not added either');
      assert.equal((await w.jobs.get('nightly'))?.spec.handler, 'x');
    }
  });

  test('invalid declarations are a ValidationError naming the field, before anything is written', async () => {
    const w = world();
    await assert.rejects(
      w.sync([ticker, { ...nightly, schedule: { expression: 'rate(10 seconds)' } }]),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.issues.some((i) => i.field === 'jobs.1.schedule.expression'),
    );
    await assert.rejects(w.sync([ticker, ticker]), /jobs\.1\.jobId: is declared twice/);
    assert.deepEqual(await w.jobs.list(), []);
  });

  test("an operator's pause is not content: it survives a sync, and an update keeps it", async () => {
    const w = world();
    await w.sync([nightly]);
    await w.jobService.setPaused('nightly', true);
    assert.deepEqual((await w.sync([nightly])).unchanged, ['nightly']);
    assert.equal((await w.jobs.get('nightly'))?.spec.paused, true);
    await w.sync([{ ...nightly, description: 'now described' }]);
    const job = await w.jobs.get('nightly');
    assert.equal(job?.spec.paused, true);
    assert.equal(job?.spec.description, 'now described');
    assert.equal(job?.owner, OWNER, 'setPaused kept the owner');
  });

  test('an edit made between the read and the write conflicts and is not overwritten', async () => {
    const memory = new MemoryJobStore();
    let w: ReturnType<typeof world> | undefined;
    // A store whose list() is followed, before the sync writes, by someone else's edit.
    const racing: JobStore = {
      get: (id) => memory.get(id),
      put: (job, v) => memory.put(job, v),
      setSyncState: (id, v, s) => memory.setSyncState(id, v, s),
      delete: (id, v) => memory.delete(id, v),
      linkDownstream: (id, d, l) => memory.linkDownstream(id, d, l),
      listLocal: (pool) => memory.listLocal(pool),
      stamp: (id) => memory.stamp(id),
      listUpdatedSince: (since) => memory.listUpdatedSince(since),
      preciseMark: () => memory.preciseMark(),
      quietPrecise: (seen, until) => memory.quietPrecise(seen, until),
      list: async () => {
        const listed = await memory.list();
        const current = await memory.get('nightly');
        if (current && w) {
          await w.jobService.define(
            { ...current.spec, description: 'edited in the console' },
            { expectedVersion: current.version },
          );
        }
        return listed;
      },
    };
    w = world(racing);
    await syncDeclaredJobs({ jobService: w.jobService, jobs: memory, owner: OWNER, declared: [nightly] });
    const result = await w.sync([{ ...nightly, timeoutSeconds: 60 }]);
    assert.deepEqual(result.updated, []);
    assert.equal(result.conflicts.length, 1);
    assert.equal(result.conflicts[0]?.jobId, 'nightly');
    assert.equal(result.conflicts[0]?.action, 'update');
    const job = await memory.get('nightly');
    assert.equal(job?.spec.description, 'edited in the console', 'the concurrent edit stands');
    assert.equal(job?.spec.timeoutSeconds, 3600);
  });

  test('three agents of one config syncing at once: each job written once, no conflicts', async () => {
    const w = world();
    await w.sync([nightly, { ...ticker, jobId: 'gone' }]);
    const declared = [{ ...nightly, timeoutSeconds: 60 }, ticker];
    const results = await Promise.all([w.sync(declared), w.sync(declared), w.sync(declared)]);
    for (const r of results) assert.deepEqual(r.conflicts, []);
    assert.equal(results.flatMap((r) => r.added).length, 1, 'ticker added by one agent');
    assert.equal(results.flatMap((r) => r.updated).length, 1, 'nightly updated by one agent');
    assert.equal(results.flatMap((r) => r.deleted).length, 1, 'gone deleted by one agent');
    assert.equal((await w.jobs.get('nightly'))?.version, 2);
    assert.equal(await w.jobs.get('gone'), null);
  });
});

describe('ownerIdFor and canonicalJson', () => {
  test('the owner id names pool and config file, stable across hosts and restarts', () => {
    assert.equal(
      ownerIdFor({ pool: 'batch', configFile: '/etc/clover/reports.yaml' }),
      'agent:batch:reports',
    );
    assert.equal(ownerIdFor({ pool: 'batch', configFile: '/opt/other/reports.yml' }), 'agent:batch:reports');
    assert.equal(ownerIdFor({ pool: 'default', configFile: undefined }), 'agent:default:agent');
    assert.equal(
      ownerIdFor({ pool: 'p', configFile: '/x/a.yaml', name: 'eu reports' }),
      'agent:p:eu-reports',
    );
    assert.ok(ownerIdFor({ pool: 'p', name: 'n'.repeat(300) }).length <= 128);
  });

  test('canonical JSON sorts keys at every level and drops undefined', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: undefined } }),
      '{"a":{"d":[{"x":2,"y":1}]},"b":1}',
    );
  });

  test('stored jobs round-trip to the same content', async () => {
    const w = world();
    await w.sync([nightly]);
    const stored = (await w.jobs.get('nightly')) as Job;
    assert.deepEqual((await w.sync([stored.spec])).unchanged, ['nightly']);
  });
});
