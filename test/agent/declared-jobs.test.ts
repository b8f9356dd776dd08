/**
 * Declarative job sync in the agent process (issue 4, "Declarative jobs"): a real `clover-agent` syncs
 * its config's `jobs:` on start under its owner id (`jobsOwner`). Restarted with one job changed and
 * one removed, it updates the first (by content, version 2, schedule too) and deletes the second.
 * Jobs created elsewhere (through JobService, no owner) are never touched — not even one whose id the
 * config declares: that is a conflict, logged as an error, and the agent starts anyway.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { useEmulator } from '../harness';
import { type AgentProcess, testHandlersConfig, useAgents } from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();

const OWNER = 'agent:sync:reports';
const HEADER = ['pool: sync', 'heartbeatIntervalSeconds: 2', 'leaseTtlSeconds: 30', 'jobsOwner: reports'];

/** A REMOTE job (EventBridge schedule) and a LOCAL one (the agents' timers; this one never fires in the test). */
const JOB_A_V1 = [
  '  - jobId: report-a',
  '    handler: work',
  '    payload: { sleepMs: 10 }',
  '    schedule: { expression: "cron(0 2 * * ? *)", timezone: Europe/Paris }',
  '    target: { pool: sync }',
];
const JOB_A_V2 = [
  '  - jobId: report-a',
  '    handler: work',
  '    payload: { sleepMs: 20 }',
  '    schedule: { expression: "cron(30 3 * * ? *)", timezone: Europe/Paris }',
  '    target: { pool: sync }',
];
const JOB_B = [
  '  - jobId: report-b',
  '    handler: work',
  '    mode: LOCAL',
  '    schedule: { expression: "0 0 3 1 1 ?" }',
  '    target: { pool: sync }',
];
const JOB_TAKEN = ['  - jobId: taken', '    handler: work', '    target: { pool: sync }'];

function config(jobs: readonly string[][]): string {
  return [...HEADER, testHandlersConfig(['work']), 'jobs:', ...jobs.flat()].join('\n');
}

function syncLine(agent: AgentProcess) {
  const line = agent.lines().find((l) => l.message === 'declared jobs synced');
  assert.ok(line, `${agent.workerId} logged its sync:\n${agent.text}`);
  return line;
}

test('declared jobs: added on start, updated and deleted on restart, jobs created elsewhere untouched, a taken id is a logged conflict', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  // Jobs created elsewhere, before the agents: setup, so through the setup clients' retries.
  const setup = controlPlane({ clients: aws.setupClients, prefix: aws.prefix });
  await setup.jobService.define({
    jobId: 'by-api',
    handler: 'work',
    schedule: { expression: 'rate(5 minutes)' },
    target: { pool: 'sync' },
  });
  await setup.jobService.define({ jobId: 'taken', handler: 'work', payload: { mine: true } });
  const takenBefore = await plane.jobs.get('taken');

  // 1. First start: A and B are added, owned by this config.
  const first = await agents.start({ aws, workerId: 'sync-1', config: config([JOB_A_V1, JOB_B]) });
  const started = await first.waitForLog(/^agent started$/);
  assert.deepEqual(started.localJobs, ['report-b'], 'the declared LOCAL job is armed');
  const sync1 = syncLine(first);
  assert.equal(sync1.owner, OWNER);
  assert.deepEqual(
    { added: sync1.added, updated: sync1.updated, deleted: sync1.deleted, conflicts: sync1.conflicts },
    { added: ['report-a', 'report-b'], updated: [], deleted: [], conflicts: [] },
  );
  for (const jobId of ['report-a', 'report-b']) {
    const job = await plane.jobs.get(jobId);
    assert.equal(job?.owner, OWNER, `${jobId} is owned by the config`);
    assert.equal(job?.version, 1);
  }
  assert.equal((await plane.schedules.get('report-a'))?.expression, 'cron(0 2 * * ? *)');
  assert.equal(await plane.schedules.get('report-b'), null, 'a LOCAL job has no EventBridge schedule');
  first.signal('SIGTERM');
  assert.deepEqual(await first.waitForExit(), { code: 0, signal: null }, first.text);

  // 2. Restart (same directory and worker id) with A changed, B removed, and an id someone else holds.
  const second = await agents.start({
    aws,
    workerId: 'sync-1',
    dir: first.dir,
    config: config([JOB_A_V2, JOB_TAKEN]),
  });
  const restarted = await second.waitForLog(/^agent started$/);
  assert.deepEqual(restarted.localJobs, [], 'report-b is no longer armed');
  const sync2 = syncLine(second);
  assert.deepEqual(
    {
      added: sync2.added,
      updated: sync2.updated,
      deleted: sync2.deleted,
      unchanged: sync2.unchanged,
      conflicts: sync2.conflicts,
    },
    { added: [], updated: ['report-a'], deleted: ['report-b'], unchanged: [], conflicts: ['taken'] },
  );
  const conflict = second.lines().find((l) => l.message === 'declared job conflict: left as it is');
  assert.equal(conflict?.level, 'error');
  assert.equal(conflict?.jobId, 'taken');
  assert.match(String(conflict?.reason), /was created outside any agent config/);

  const a = await plane.jobs.get('report-a');
  assert.equal(a?.version, 2, 'A updated with its version');
  assert.equal(a?.owner, OWNER);
  assert.deepEqual(a?.spec.payload, { sleepMs: 20 });
  assert.equal((await plane.schedules.get('report-a'))?.expression, 'cron(30 3 * * ? *)');
  assert.equal(await plane.jobs.get('report-b'), null, 'B deleted');

  const byApi = await plane.jobs.get('by-api');
  assert.equal(byApi?.version, 1, 'a job created elsewhere is untouched');
  assert.equal(byApi?.owner, undefined);
  assert.equal((await plane.schedules.get('by-api'))?.expression, 'rate(5 minutes)');
  assert.deepEqual(await plane.jobs.get('taken'), takenBefore, 'the conflicting job is untouched');

  assert.ok(second.running, 'the conflict did not stop the agent');
  second.signal('SIGTERM');
  assert.deepEqual(await second.waitForExit(), { code: 0, signal: null }, second.text);
});
