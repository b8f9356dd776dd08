/**
 * Clover at size: 10,000 jobs and 200 agents on one emulator.
 *
 * - API list and search latency at 10,000 jobs: the `api` bench (bench/api.ts), in the same run.
 * - 200 simulated agents: registered worker leases, each renewed every `heartbeatIntervalSeconds`
 *   (the agent's default, 4 s) for the whole measurement, staggered as real agents' timers are —
 *   what the renewals cost (requests per hour and per month, write units, dollars at the dated
 *   prices in docs/aws-prices.md) and how late they get on the emulator.
 * - The monitor's sweep (core/monitor/) over those 10,000 jobs and 200 leases: the first sweep of
 *   a cold instance (a full read of the jobs), a warm one a loop (2 s) later (the jobs changed since: ten are
 *   edited in between), and a warm one at housekeeping (a full read again), with their AWS requests
 *   by operation and DynamoDB read units; from those, the read units of a month of sweeps, idle
 *   (one a minute) and watching (every 2 s), against what a full read every sweep cost before
 *   (issue 16). Measured before the
 *   renewals start, not during: on moto every DynamoDB request waits its turn behind the linearizing
 *   proxy (docs/emulators.md), so the sweep's long Scan of the jobs table would delay renewals past
 *   their deadlines — an emulator artefact, not what DynamoDB does. (Its DynamoDB calls go straight
 *   to moto with a long deadline: see below.)
 *
 * Jobs are seeded with BatchWriteItem (bench/seed.ts), 90% daily cron at an hour 12 hours away and
 * 10% `rate(1 day)`, created and last edited 10 minutes ago, so no fire falls due while the bench
 * runs (however slow the emulator) and no handler lacks a live worker: a quiet sweep, the steady
 * state. A cold sweep still asks the ledger about each `rate` job (its fires are anchored on its
 * latest run); a cron job's latest fire lies outside the catch-up window, so it needs no read.
 * LOCAL-mode job discovery per agent is measured elsewhere (bench/local-discovery.ts).
 *
 *   npx tsx bench/scale.ts [jobs=10000] [agents=200]
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AwsClients, awsClients } from '../core/adapters/aws-clients';
import { errorName } from '../core/adapters/aws-errors';
import { controlPlane } from '../core/adapters/control-plane';
import { encodeJob } from '../core/adapters/dynamo-job-store';
import { JobSchema, WorkerRegistrationSchema } from '../core/model';
import { Monitor } from '../core/monitor';
import { DEFAULT_MONITOR_LOOP_SECONDS } from '../functions/monitor/handler';
import { physicalName } from '../infra/resources';
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_LEASE_TTL_SECONDS } from '../worker-agent/config';
import { RequestCounter } from './aws-requests';
import { callLabel, onEveryCall } from './aws-timeline';
import { COST_ASSUMPTIONS, loadPrices, requestUnits, unitPrice } from './cost-model';
import { withBenchStack } from './harness';
import { batchWrite } from './seed';
import { percentile } from './stats';

const HANDLERS = 50;
const KB4 = 4096;

/**
 * DynamoDB's size of an item (attribute names and values; numbers about half their digits), near
 * enough to turn the items a read returned into read units.
 */
export function itemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: unknown): number {
  const [type, inner] = Object.entries(value as Record<string, unknown>)[0] ?? ['NULL', null];
  switch (type) {
    case 'S':
      return Buffer.byteLength(inner as string);
    case 'N':
      return Math.ceil((inner as string).length / 2) + 1;
    case 'SS':
      return (inner as string[]).reduce((sum, v) => sum + Buffer.byteLength(v), 0);
    case 'NS':
      return (inner as string[]).reduce((sum, v) => sum + Math.ceil(v.length / 2) + 1, 0);
    case 'M':
      return 3 + itemBytes(inner as Record<string, unknown>);
    case 'L':
      return 3 + (inner as unknown[]).reduce<number>((sum, v) => sum + 1 + valueBytes(v), 0);
    default:
      return 1; // BOOL, NULL
  }
}

/**
 * The read units each DynamoDB read spends, by operation, as DynamoDB bills them: per request, the
 * bytes of the items read rounded up to 4 KB, one unit per 4 KB read consistently, half that
 * eventually consistently (every index read). A filtered Scan is billed for the items it read, not
 * those it returned: here only the held-locks Scan filters, over a lock table the bench leaves empty.
 */
class ReadUnitMeter {
  private units = new Map<string, number>();

  /** By `DynamoDB.Operation(table)`: the stage's `prefix` names the tables. */
  constructor(clients: AwsClients, prefix: string) {
    onEveryCall(clients, 'read-units', (service) => (next, context) => async (args) => {
      const result = await next(args);
      if (service !== 'DynamoDB') return result;
      const op = String(context.commandName).replace(/Command$/, '');
      const label = callLabel(service, context.commandName, args.input, prefix);
      const output = (result as { output?: { Item?: Item; Items?: Item[] } }).output ?? {};
      const items = output.Items ?? (output.Item ? [output.Item] : op === 'GetItem' ? [] : undefined);
      if (!items) return result;
      const consistent = (args.input as { ConsistentRead?: boolean } | undefined)?.ConsistentRead === true;
      const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
      const units = Math.max(1, Math.ceil(bytes / KB4)) * (consistent ? 1 : 0.5);
      this.units.set(label, (this.units.get(label) ?? 0) + units);
      return result;
    });
  }

  reset(): void {
    this.units.clear();
  }

  snapshot(): { total: number; byOperation: Record<string, number> } {
    const byOperation = Object.fromEntries([...this.units.entries()].sort());
    return { total: Object.values(byOperation).reduce((a, b) => a + b, 0), byOperation };
  }
}
type Item = Record<string, unknown>;

/**
 * A month of monitor sweeps at this size in read units and dollars, two ways (core/monitor/watch.ts):
 * `idle` — nothing in flight, one sweep a minute, each a housekeeping sweep (a full read of the jobs);
 * `watching` — runs in flight all month, a sweep every `loopSeconds` (the monitor's default, 2 s)
 * with a housekeeping sweep each minute and warm sweeps between, against `before`: the same sweeps
 * each reading the whole jobs table, as until issue 16, plus one GetItem of the lock of every job at
 * each housekeeping (the stale-lock check, now one Scan of the held locks).
 */
export function sweepReadsPerMonth(
  measured: { fullJobsReadUnits: number; housekeepingSweepUnits: number; warmSweepUnits: number },
  jobs: number,
  loopSeconds = DEFAULT_MONITOR_LOOP_SECONDS,
  dollarsPerReadUnit = unitPrice(loadPrices(), 'dynamodb.readUnits'),
) {
  const housekeepings = COST_ASSUMPTIONS.hoursPerMonth * 60;
  const sweeps = (COST_ASSUMPTIONS.hoursPerMonth * 3600) / loopSeconds;
  const before = measured.fullJobsReadUnits * sweeps + jobs * housekeepings;
  const after =
    measured.housekeepingSweepUnits * housekeepings + measured.warmSweepUnits * (sweeps - housekeepings);
  const idle = measured.housekeepingSweepUnits * housekeepings;
  const dollars = (units: number) => Math.round(units * dollarsPerReadUnit * 100) / 100;
  return {
    idle: { sweepsPerMonth: housekeepings, readUnits: idle, dollars: dollars(idle) },
    watching: {
      loopSeconds,
      sweepsPerMonth: sweeps,
      housekeepingsPerMonth: housekeepings,
      before: { readUnits: before, dollars: dollars(before) },
      after: { readUnits: after, dollars: dollars(after) },
      ratio: +(before / after).toFixed(1),
    },
  };
}

/**
 * What lease renewals cost on AWS, in bench/cost-model.ts's unit model and month, at the write-unit price
 * of bench/aws-prices.json: a renewal is one UpdateItem of the leases table (1 write unit; the table
 * has no index for it to reach).
 */
export function renewalCost(
  agents: number,
  intervalSeconds: number,
  writeUnitsPerRenewal = requestUnits('DynamoDB.UpdateItem(leases)').write,
  dollarsPerWriteUnit = unitPrice(loadPrices(), 'dynamodb.writeUnits'),
) {
  const perHour = Math.round((agents * 3600) / intervalSeconds);
  const units = perHour * COST_ASSUMPTIONS.hoursPerMonth * writeUnitsPerRenewal;
  return {
    renewalsPerHour: perHour,
    writeUnitsPerRenewal,
    writeUnitsPerMonth: units,
    dollarsPerMonth: Math.round(units * dollarsPerWriteUnit * 100) / 100,
  };
}

export function scale(jobCount = 10_000, agentCount = 200): Promise<Record<string, unknown>> {
  return withBenchStack({ name: 'scale' }, async ({ emulator, clients: monitorClients, prefix }) => {
    // Separate clients for the agents, so the monitor's requests are counted apart from the renewals.
    const agentClients = awsClients({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: emulator.credentials,
    });
    const agentPlane = controlPlane({ clients: agentClients, prefix });
    let renewing = false;
    const loops: Promise<void>[] = [];
    const cleanups: Array<() => unknown> = [];
    try {
      const now = Date.now();
      const quietHour = (new Date(now).getUTCHours() + 12) % 24;
      const seedStarted = performance.now();
      await batchWrite(
        monitorClients,
        physicalName(prefix, 'jobs'),
        Array.from({ length: jobCount }, (_, i) => ({
          PutRequest: {
            Item: encodeJob(
              JobSchema.parse({
                spec: {
                  jobId: `job-${String(i).padStart(5, '0')}`,
                  handler: `handler.h${i % HANDLERS}`,
                  schedule: {
                    expression: i % 10 === 0 ? 'rate(1 day)' : `cron(${i % 60} ${quietHour} * * ? *)`,
                  },
                },
                version: 1,
                // No fire of these is due since: the sweeps find nothing missed. Older than the
                // warm sweep's look-back, so its Query returns only the jobs edited between sweeps.
                createdAt: now - 600_000,
                updatedAt: now - 600_000,
                syncState: 'IN_SYNC',
              }),
            ),
          },
        })),
        4,
      );
      const seedSeconds = (performance.now() - seedStarted) / 1000;

      const ttlMs = DEFAULT_LEASE_TTL_SECONDS * 1000;
      const intervalMs = DEFAULT_HEARTBEAT_INTERVAL_SECONDS * 1000;
      const handlers = Array.from({ length: HANDLERS }, (_, h) => `handler.h${h}`);
      const leases = new Map<string, number>();
      const registerStarted = performance.now();
      for (let i = 0; i < agentCount; i += 8) {
        await Promise.all(
          Array.from({ length: Math.min(8, agentCount - i) }, async (_, k) => {
            const workerId = `agent-${String(i + k).padStart(3, '0')}`;
            const worker = await agentPlane.workers.register(
              WorkerRegistrationSchema.parse({ workerId, host: `host-${i + k}`, handlers, capacity: 4 }),
              Date.now(),
              // Live through the sweeps, however long moto takes; the renewals then keep the agents' TTL.
              3_600_000,
            );
            leases.set(workerId, worker.leaseFence);
          }),
        );
      }
      const registerSeconds = (performance.now() - registerStarted) / 1000;

      // moto needs longer for one Scan page of the 10,000-job table (about 1 MB) than Clover gives a
      // DynamoDB call (5 s, aws-clients.ts) and than the linearizing proxy gives a turn (15 s) on a
      // loaded machine. So the sweep's DynamoDB client has a 2-minute deadline, no retries, and goes
      // straight to moto: safe here because nothing else writes while it sweeps (the renewals start
      // after), and the proxy only matters for concurrent transactions (docs/emulators.md).
      const sweepDynamo = new DynamoDBClient({
        region: emulator.region,
        endpoint: emulator.unproxiedEndpoint ?? emulator.endpoint,
        credentials: emulator.credentials,
        maxAttempts: 1,
        requestHandler: { requestTimeout: 120_000, throwOnRequestTimeout: true },
      });
      cleanups.push(() => sweepDynamo.destroy());
      const sweepClients: AwsClients = { ...monitorClients, dynamodb: sweepDynamo };
      const sweepPlane = controlPlane({ clients: sweepClients, prefix });
      cleanups.push(() => sweepPlane.close());
      const monitor = new Monitor({ ...sweepPlane, deadLetters: sweepPlane.fireDeadLetters });
      const sweepCounter = new RequestCounter(sweepClients);
      const readUnits = new ReadUnitMeter(sweepClients, prefix);
      const sweep = async (at: number) => {
        sweepCounter.reset();
        readUnits.reset();
        const started = performance.now();
        const report = await monitor.sweep(at);
        return {
          seconds: +((performance.now() - started) / 1000).toFixed(2),
          requests: sweepCounter.total(),
          requestsPerJob: +(sweepCounter.total() / jobCount).toFixed(2),
          byOperation: sweepCounter.snapshot(),
          readUnits: readUnits.snapshot(),
          workersExpired: report.workersExpired,
          catchUpFires: report.catchUpFires,
          jobsWithoutLiveWorker: report.jobsWithoutLiveWorker,
          errors: report.errors,
        };
      };
      // Each sweep at its instant as the monitor sees it (its `now`), a watching loop apart: on moto one
      // full read of 10,000 jobs takes longer than the 60 s between housekeepings, so sweeps timed by
      // the wall clock here would all be housekeeping ones.
      const t0 = Date.now();
      const cold = await sweep(t0);
      // Ten jobs edited (a new version, as a define writes it) between the sweeps: the warm sweep's
      // Query brings exactly those.
      for (let i = 0; i < 10; i++) {
        const job = (await sweepPlane.jobs.get(`job-${String(i).padStart(5, '0')}`))!;
        const edited = { ...job, version: job.version + 1, updatedAt: Date.now() };
        await sweepPlane.jobs.put({ ...edited, spec: { ...job.spec, description: 'edited' } }, job.version);
      }
      const warm = await sweep(t0 + DEFAULT_MONITOR_LOOP_SECONDS * 1000);
      // The next housekeeping (the monitor's default, every 60 s after the cold sweep): a full read again.
      const housekeeping = await sweep(t0 + 60_000);
      const fullJobsReadUnits = housekeeping.readUnits.byOperation['DynamoDB.Scan(jobs)'] ?? 0;
      // Each agent renews on its own timer, phases spread over the interval as independent hosts' are.
      const renewalMs: number[] = [];
      /** Failed renewals by the SDK error underneath (TimeoutError: the emulator did not answer in 5 s). */
      const renewalErrors: Record<string, number> = {};
      let renewed = 0;
      let lateRenewals = 0;
      const counter = new RequestCounter(agentClients);
      renewing = true;
      const renewStarted = performance.now();
      for (const [workerId, fence] of leases) {
        const phase = Math.random() * intervalMs;
        loops.push(
          (async () => {
            await new Promise((resolve) => setTimeout(resolve, phase));
            while (renewing) {
              const started = performance.now();
              try {
                await agentPlane.workers.renew(workerId, fence, Date.now(), ttlMs, 0);
                renewed += 1;
              } catch (error) {
                const cause = errorName((error as Error).cause) ?? errorName(error) ?? 'unknown';
                renewalErrors[cause] = (renewalErrors[cause] ?? 0) + 1;
              }
              const ms = performance.now() - started;
              renewalMs.push(ms);
              // A renewal slower than the slack between interval and TTL puts the lease at risk.
              if (ms > ttlMs - intervalMs) lateRenewals += 1;
              await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - ms)));
            }
          })(),
        );
      }

      // Ten heartbeat intervals of renewals, so the rate is the steady one.
      await new Promise((resolve) => setTimeout(resolve, 10 * intervalMs));
      renewing = false;
      await Promise.all(loops);
      const renewSeconds = (performance.now() - renewStarted) / 1000;
      const renewRequests = counter.snapshot();

      return {
        emulator: emulator.kind,
        jobs: jobCount,
        agents: agentCount,
        seedJobsSeconds: +seedSeconds.toFixed(1),
        registerAgentsSeconds: +registerSeconds.toFixed(1),
        leaseRenewals: {
          heartbeatIntervalSeconds: DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
          leaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS,
          measuredSeconds: +renewSeconds.toFixed(1),
          renewals: renewalMs.length,
          wantedPerSecond: +(agentCount / DEFAULT_HEARTBEAT_INTERVAL_SECONDS).toFixed(1),
          attemptedPerSecond: +(renewalMs.length / renewSeconds).toFixed(1),
          succeededPerSecond: +(renewed / renewSeconds).toFixed(1),
          latencyMs: { p50: round(percentile(renewalMs, 50)), p99: round(percentile(renewalMs, 99)) },
          slowerThanLeaseSlack: lateRenewals,
          errors: renewalErrors,
          requestsPerRenewal: +(
            Object.values(renewRequests).reduce((a, b) => a + b, 0) / renewalMs.length
          ).toFixed(2),
          byOperation: renewRequests,
          cost: renewalCost(agentCount, DEFAULT_HEARTBEAT_INTERVAL_SECONDS),
        },
        monitorSweep: {
          cold,
          warm,
          housekeeping,
          fullJobsReadUnits,
          perMonth: sweepReadsPerMonth(
            {
              fullJobsReadUnits,
              housekeepingSweepUnits: housekeeping.readUnits.total,
              warmSweepUnits: warm.readUnits.total,
            },
            jobCount,
          ),
        },
      };
    } finally {
      renewing = false;
      await Promise.allSettled(loops);
      await agentPlane.close();
      agentClients.destroy();
      for (const cleanup of cleanups) await cleanup();
    }
  });
}

const round = (ms: number) => Math.round(ms * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) {
  const [jobs, agents] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await scale(jobs || 10_000, agents || 200), null, 2));
}
