/**
 * No hot keys (issue 26): a burst of fires written through the real adapters on the emulator, then
 * every index key's share of the index writes, scaled to the capacity model's 1,000 fires/s.
 *
 * moto takes tens of fires a second on this machine, not 1,000, so the test measures what does not
 * depend on speed — which key each index write goes to, from the items' own stored key values —
 * and scales: a key that takes k of the N fires' index writes takes k / N × 1,000 writes a second at
 * 1,000 fires/s (the per-fire writes of each index are bench/cost-model.ts's `runIndexWrites`, the same
 * the cost model prices). Every shared key must stay under half a partition's ~1,000 writes/s.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { runIndexWrites } from '../../bench/cost-model';
import { type Item, unmarshalItem } from '../../core/adapters/dynamo-items';
import { DynamoJobStore } from '../../core/adapters/dynamo-job-store';
import { DynamoRunLedger } from '../../core/adapters/dynamo-run-ledger';
import { claimFromEnvelope, envelopeFor } from '../../core/envelope';
import { jobLockKey } from '../../core/model';
import { sampleJob, sampleRun, T0 } from '../../core/testing/contracts/fixtures';
import { useEmulator } from '../harness';

const aws = useEmulator();
const FIRES = 160;
const JOBS = 40;
const WORKERS = 8;
const MODEL_FIRES_PER_SECOND = 1_000;
/** A PAY_PER_REQUEST partition takes ~1,000 write units a second; the model keeps every key under half. */
const KEY_LIMIT = 500;

async function scan(table: string): Promise<Record<string, unknown>[]> {
  const out = await aws.clients.dynamodb.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).map((item: Item) => unmarshalItem(item));
}

/** Writes per second each key of `attribute` takes at the model's rate, from `perItem` writes per item. */
function perKeyAtModelRate(
  items: readonly Record<string, unknown>[],
  attribute: string,
  perItem: number,
  per: number,
) {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = item[attribute];
    if (typeof key === 'string') counts.set(key, (counts.get(key) ?? 0) + perItem);
  }
  return new Map([...counts].map(([key, writes]) => [key, (writes / per) * MODEL_FIRES_PER_SECOND]));
}

it('a burst of fires spreads every shared index key far below a partition at 1,000 fires/s', async () => {
  const stack = await aws.provisioned();
  const client = aws.clients.dynamodb;
  const jobs = new DynamoJobStore({ client, table: stack.tables.jobs, locksTable: stack.tables.locks });
  const ledger = new DynamoRunLedger({
    client,
    runsTable: stack.tables.runs,
    locksTable: stack.tables.locks,
  });
  const jobIds = Array.from({ length: JOBS }, (_, i) => `burst-${i}`);
  for (const jobId of jobIds) await jobs.put(sampleJob({ jobId }), 0);

  // The burst: each fire's run written with its job's lock, then claimed — the writes a dispatcher
  // and an agent make — eight at a time; the finish comes after the index keys are read.
  const runs = Array.from({ length: FIRES }, (_, i) => {
    const jobId = jobIds[i % JOBS]!;
    return sampleRun({
      jobId,
      scheduledTime: new Date(T0 + Math.floor(i / JOBS) * 60_000).toISOString().replace(/\.000Z$/, 'Z'),
      status: 'DISPATCHED',
      fence: 1,
      workerId: `w-${i % WORKERS}`,
      lockKey: jobLockKey(jobId),
      deadlineAt: T0 + 3_600_000,
    });
  });
  const started = performance.now();
  for (let i = 0; i < runs.length; i += 8) {
    await Promise.all(
      runs.slice(i, i + 8).map(async (run) => {
        // Each job fires once a round (a minute apart); a round's lock lease ends before the next.
        const now = Date.parse(run.scheduledTime);
        await ledger.createWithLock(run, {
          key: jobLockKey(run.jobId),
          owner: run.runId,
          expiresAt: now + 30_000,
          now,
        });
        const claim = claimFromEnvelope(envelopeFor(run, T0 + 3_600_000, T0), run.workerId!, T0 + 10);
        await ledger.claim(run.runId, claim);
      }),
    );
  }
  const open = await scan(stack.tables.runs);
  assert.equal(open.length, FIRES);
  for (let i = 0; i < runs.length; i += 8) {
    await Promise.all(
      runs
        .slice(i, i + 8)
        .map((run) =>
          ledger.finish(
            { ...run, status: 'RUNNING' },
            { from: ['RUNNING'], fence: 1, to: 'SUCCEEDED', at: T0 + 20, release: true, health: 'healthy' },
          ),
        ),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const done = await scan(stack.tables.runs);
  assert.ok(
    done.every((item) => item.status === 'SUCCEEDED' && item.open === undefined),
    'finished runs leave byOpenKeys',
  );

  const writes = runIndexWrites();
  const indexes: Array<[name: string, attribute: string, perFire: number]> = [
    ['runs.byDay', 'day', writes.byDay ?? 0],
    ['runs.byOpenKeys', 'open', writes.byOpenKeys ?? 0],
    ['runs.byWorker', 'workerId', writes.byWorker ?? 0],
  ];
  const lines = [
    `burst: ${FIRES} fires of ${JOBS} jobs on ${WORKERS} workers in ${seconds.toFixed(1)} s (${(FIRES / seconds).toFixed(1)} fires/s on the emulator)`,
  ];
  for (const [name, attribute, perFire] of indexes) {
    const rates = perKeyAtModelRate(open, attribute, perFire, FIRES);
    const [hottest, rate] = [...rates].sort((a, b) => b[1] - a[1])[0]!;
    lines.push(
      `${name}: ${rates.size} keys; hottest ${hottest} took ${Math.round((rate * FIRES) / MODEL_FIRES_PER_SECOND)} of ${FIRES * perFire} writes ` +
        `→ ${Math.round(rate)} writes/s at ${MODEL_FIRES_PER_SECOND} fires/s (limit ${KEY_LIMIT})`,
    );
    if (name !== 'runs.byWorker') assert.ok(rate < KEY_LIMIT, lines.at(-1));
  }
  // Jobs: every job write reaches byList and byUpdate under its listKey shard; at 1,000 job writes/s:
  const jobRates = perKeyAtModelRate(await scan(stack.tables.jobs), 'listKey', 1, JOBS);
  const hottestJobs = Math.max(...jobRates.values());
  lines.push(
    `jobs.byList/byUpdate: ${jobRates.size} keys; hottest → ${Math.round(hottestJobs)} writes/s at 1,000 job writes/s`,
  );
  assert.ok(jobRates.size > 1 && hottestJobs < KEY_LIMIT, lines.at(-1));
  console.log(lines.join('\n'));
});
