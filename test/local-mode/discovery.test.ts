/**
 * LOCAL job discovery on a real AWS emulator (issue 16): a running agent picks up a LOCAL job that is
 * defined, changed and deleted after it started, through its periodic keyed read of the pool's LOCAL
 * jobs (JobStore.listLocal: a Query of the jobs table's `byMode` index) — and never scans the jobs
 * table, which at 10,000 jobs costs every agent thousands of reads an hour (bench/local-discovery.ts).
 *
 * The agent runs in this process so that the AWS requests it makes can be counted by operation with
 * the SDK middleware the benchmarks use (bench/aws-requests.ts); its clients are its own, so the
 * test's own writes are not counted. Its refresh interval is shortened to 300 ms; nothing waits on
 * time, only on what the agent reports (its armed LOCAL jobs) and on the handler's own marker.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RequestCounter } from '../../bench/aws-requests';
import { awsClients } from '../../core/adapters/aws-clients';
import { controlPlane } from '../../core/adapters/control-plane';
import { jsonLogger } from '../../core/log';
import { Agent } from '../../worker-agent/agent';
import { sqsAgentDeps } from '../../worker-agent/agent-deps';
import { parseAgentConfig } from '../../worker-agent/config';
import { useEmulator } from '../harness';
import { waitFor } from '../harness/wait';

const aws = useEmulator();

test('a running agent picks up a LOCAL job defined, changed and deleted after it started, and never scans the jobs table', {
  timeout: 120_000,
}, async (t) => {
  await aws.provisioned();
  const admin = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const { endpoint, region, credentials } = aws.emulator;
  const clients = awsClients({ endpoint, region, credentials });
  const requests = new RequestCounter(clients);
  const dir = await mkdtemp(join(tmpdir(), 'clover-discovery-'));
  const ran: string[] = [];
  const agent = new Agent({
    config: parseAgentConfig(
      [
        'workerId: finder-1',
        'pool: finders',
        'capacity: 4',
        'heartbeatIntervalSeconds: 2',
        'leaseTtlSeconds: 30',
        `journalDir: ${join(dir, 'journal')}`,
      ].join('\n'),
      { env: {} },
    ),
    deps: sqsAgentDeps({ clients, prefix: aws.prefix }),
    logger: jsonLogger({ level: 'warn' }),
    host: '127.0.0.1',
    local: { refreshIntervalMs: 300 },
  });
  agent.handle('tick', async (ctx) => {
    ran.push(ctx.runId);
  });
  t.after(async () => {
    await agent.close({ force: true }).catch(() => undefined);
    clients.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  // Many jobs the agent must not read: REMOTE ones in its pool, LOCAL ones in another pool.
  for (const [i, mode, pool] of [
    [1, 'REMOTE', 'finders'],
    [2, 'REMOTE', 'finders'],
    [3, 'LOCAL', 'elsewhere'],
  ] as const) {
    await admin.jobService.define({
      jobId: `other-${i}`,
      handler: 'tick',
      mode,
      schedule: { expression: mode === 'LOCAL' ? '*/2 * * * * ?' : 'rate(1 hour)' },
      target: { pool },
    });
  }
  await agent.start();
  assert.deepEqual([...agent.localJobs.keys()], [], 'no LOCAL job of its pool yet');

  // Defined after the agent started: armed at a refresh, then fired and run here.
  await admin.jobService.define({
    jobId: 'found',
    handler: 'tick',
    mode: 'LOCAL',
    schedule: { expression: '*/2 * * * * ?' },
    concurrency: { policy: 'ALLOW' },
    target: { pool: 'finders' },
  });
  const armed = () => [...agent.localJobs];
  await waitFor(armed, (jobs) => jobs.some(([jobId]) => jobId === 'found'), 'the new LOCAL job armed');
  await waitFor(
    () => ran,
    (runs) => runs.some((runId) => runId.startsWith('found@')),
    'a fire of the new LOCAL job run by the agent',
  );
  const evenSecond = (at: number | null | undefined) => at != null && (at / 1000) % 2 === 0;
  assert.ok(evenSecond(agent.localJobs.get('found')), 'armed on even seconds');

  // Changed: odd seconds now. Only a fresh read of the job re-arms the timer.
  const found = await admin.jobs.get('found');
  assert.ok(found);
  await admin.jobService.define(
    { ...found.spec, schedule: { expression: '1/2 * * * * ?', timezone: 'UTC' } },
    { expectedVersion: found.version },
  );
  await waitFor(
    () => agent.localJobs.get('found'),
    (next) => next != null && !evenSecond(next),
    'the changed LOCAL job re-armed on odd seconds',
  );

  // Deleted: disarmed at the next refresh.
  await admin.jobService.delete('found');
  await waitFor(
    armed,
    (jobs) => !jobs.some(([jobId]) => jobId === 'found'),
    'the deleted LOCAL job disarmed',
  );
  assert.deepEqual(
    [...agent.localJobs.keys()],
    [],
    'LOCAL jobs of other pools and REMOTE jobs are never armed',
  );

  const counts = requests.snapshot();
  t.diagnostic(`agent requests by operation: ${JSON.stringify(counts)}`);
  assert.equal(counts['DynamoDB.Scan'], undefined, 'the agent never scanned a table');
  assert.ok((counts['DynamoDB.Query'] ?? 0) >= 3, 'it discovered the jobs with keyed queries');
});
