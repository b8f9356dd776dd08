/**
 * The management API at size: 10,000 jobs and 100,000 runs (7 days of them) on the emulator, read
 * through the real HTTP server. For each kind of list and for the error search: latency per page
 * (p50/p95) and DynamoDB requests per page, counted by an SDK middleware. Reported, never asserted.
 *
 *   npm run bench -- api
 */

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeJob } from '../core/adapters/dynamo-job-store';
import { CloverApiClient } from '../core/api/client';
import { fireRunId, isoSeconds, JobSchema, type Run, RunSchema, type RunStatus } from '../core/model';
import { startLocalApi } from '../functions/local/api-server';
import { physicalName } from '../infra/resources';
import { RequestCounter } from './aws-requests';
import { withBenchStack } from './harness';
import { tryFigure } from './results';
import { batchWrite } from './seed';
import { percentile } from './stats';

const HOUR = 3600_000;

export function apiAtSize(jobCount = 10_000, runCount = 100_000): Promise<Record<string, unknown>> {
  // The API's reads are the plane's: on moto a Query of an index walks the whole table, so a page
  // over 10,000 runs can outlast the product's 5 s deadline on a loaded machine (the emulator's
  // artefact, not the API's): the stack's clients wait up to a minute.
  return withBenchStack({ name: 'api', callTimeoutMs: 60_000 }, async ({ clients, prefix, plane }) => {
    const server = { close: async () => {} };
    try {
      const now = Date.now();
      const seedStart = performance.now();
      const jobs = Array.from({ length: jobCount }, (_, i) =>
        JobSchema.parse({
          spec: {
            jobId: `job-${String(i).padStart(5, '0')}`,
            handler: `handler.h${i % 50}`,
            description: i % 100 === 0 ? `Billing export ${i}` : `report ${i}`,
            schedule: { expression: 'rate(1 hour)' },
            target: { pool: `pool-${i % 10}` },
            ...(i % 20 === 0 ? { group: 'billing' } : {}),
          },
          version: 1,
          createdAt: now,
          updatedAt: now,
          syncState: 'IN_SYNC',
        }),
      );
      await batchWrite(
        clients,
        physicalName(prefix, 'jobs'),
        jobs.map((job) => ({ PutRequest: { Item: encodeJob(job) } })),
      );
      const statuses: RunStatus[] = ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'TIMED_OUT'];
      const span = 7 * 24 * HOUR - HOUR;
      const runs: Run[] = Array.from({ length: runCount }, (_, i) => {
        const at = now - HOUR - Math.floor((i / runCount) * span);
        const jobId = jobs[i % jobCount]!.spec.jobId;
        const scheduledTime = isoSeconds(at);
        const status = statuses[i % statuses.length]!;
        return RunSchema.parse({
          runId: `${fireRunId(jobId, scheduledTime)}#${i}`,
          jobId,
          scheduledTime,
          trigger: 'SCHEDULE',
          handler: 'handler.h1',
          payload: null,
          status,
          attempt: 1,
          fence: 1,
          jobVersion: 1,
          concurrency: 'FORBID',
          workerId: `w-${i % 20}`,
          createdAt: at,
          updatedAt: at,
          startedAt: at + 200,
          finishedAt: at + 1200 + (i % 1000),
          log: [`run ${i} started`, i % 500 === 0 ? 'ERROR: disk full on /var/data' : `run ${i} done`],
          ...(status === 'FAILED' ? { error: { code: 'handler', message: `exit code ${i % 7}` } } : {}),
          history: [{ at, status, attempt: 1 }],
        });
      });
      await batchWrite(
        clients,
        physicalName(prefix, 'runs'),
        runs.map((run) => ({ PutRequest: { Item: plane.runs.encode(run) } })),
      );
      const seedSeconds = (performance.now() - seedStart) / 1000;

      const api = await startLocalApi({
        plane,
        log: plane.log,
        port: 0,
        stateDir: await mkdtemp(join(tmpdir(), 'clover-bench-api-')),
        rateLimit: { perSecond: 100_000, burst: 100_000 },
      });
      server.close = api.close;
      const { token } = await api.auth.issue('bench', 'viewer');
      const client = new CloverApiClient({ baseUrl: api.url, token });
      const counter = new RequestCounter(clients);

      /** Follows `pages` pages of one list; latency and DynamoDB requests per page. */
      const measureList = async (
        name: string,
        call: (cursor?: string) => Promise<{ items: unknown[]; nextCursor?: string; scanned?: number }>,
        pages = 3,
      ) => {
        const latencies: number[] = [];
        const reads: number[] = [];
        let items = 0;
        let scanned = 0;
        let cursor: string | undefined;
        for (let page = 0; page < pages; page++) {
          counter.reset();
          const started = performance.now();
          const out = await call(cursor);
          latencies.push(performance.now() - started);
          reads.push(counter.total());
          items += out.items.length;
          scanned += out.scanned ?? 0;
          cursor = out.nextCursor;
          if (!cursor) break;
        }
        return {
          [name]: {
            pages: latencies.length,
            itemsPerPage: +(items / latencies.length).toFixed(1),
            ...(scanned ? { runsScannedPerPage: Math.round(scanned / latencies.length) } : {}),
            p50Ms: +percentile(latencies, 50).toFixed(1),
            p95Ms: +percentile(latencies, 95).toFixed(1),
            dynamoRequestsPerPage: {
              max: Math.max(...reads),
              mean: +(reads.reduce((a, b) => a + b, 0) / reads.length).toFixed(1),
            },
          },
        };
      };
      // One list failing (an emulator timeout) keeps the others' figures and records its error.
      const measure = async (...args: Parameters<typeof measureList>) => ({
        [args[0]]: await tryFigure(async () => (await measureList(...args))[args[0]]),
      });
      const c = (cursor?: string) => (cursor ? { cursor } : {});
      const figures: Record<string, unknown> = {
        jobs: jobCount,
        runs: runCount,
        seedSeconds: +seedSeconds.toFixed(1),
        ...(await measure('jobs, all, 50 a page', (cur) =>
          client.call('listJobs', { query: { limit: 50, ...c(cur) } }),
        )),
        ...(await measure('jobs, pool filter (index)', (cur) =>
          client.call('listJobs', { query: { pool: 'pool-3', limit: 50, ...c(cur) } }),
        )),
        ...(await measure('jobs, group + text filter', (cur) =>
          client.call('listJobs', { query: { group: 'billing', q: 'billing', limit: 50, ...c(cur) } }),
        )),
        ...(await measure('jobs, text filter only (1 in 100 match)', (cur) =>
          client.call('listJobs', { query: { q: 'billing', limit: 50, ...c(cur) } }),
        )),
        ...(await measure('runs, newest first, 50 a page', (cur) =>
          client.call('listRuns', { query: { limit: 50, ...c(cur) } }),
        )),
        ...(await measure('runs of one job', (cur) =>
          client.call('listRuns', { query: { jobId: 'job-00042', limit: 50, ...c(cur) } }),
        )),
        ...(await measure('runs by status FAILED', (cur) =>
          client.call('listRuns', { query: { status: 'FAILED', limit: 50, ...c(cur) } }),
        )),
        ...(await measure('runs by worker', (cur) =>
          client.call('listRuns', { query: { workerId: 'w-7', limit: 50, ...c(cur) } }),
        )),
        ...(await measure(
          'error search "disk full" over 7 days',
          (cur) => client.call('searchErrors', { query: { q: 'disk full', limit: 50, ...c(cur) } }),
          3,
        )),
      };
      figures['stats, last 24 hours'] = await tryFigure(async () => {
        counter.reset();
        const started = performance.now();
        const stats = await client.call('getStats', { query: {} });
        return {
          ms: +(performance.now() - started).toFixed(1),
          runs: stats.runs,
          dynamoRequests: counter.total(),
        };
      });
      return figures;
    } finally {
      await server.close();
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const counts = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await apiAtSize(counts[0], counts[1]), null, 2));
}
