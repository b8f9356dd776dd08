/**
 * A quiet stage's hour of AWS requests, on a simulated clock: what the cost model prices an idle
 * stage's monitor and planner from (bench/cost-model.ts), and what test/monitor/idle-hour.test.ts holds
 * to that price.
 *
 * The stage has jobs of every kind, none due within the hour, and one live worker able to run them.
 * Each simulated minute the monitor Lambda's handler gets its rule's scheduled event and the
 * dispatcher's handler gets the planner schedule's input (`{planner: true, scheduledTime}`), both
 * built as their containers build them (`monitorHandlerFor`, `dispatcherHandlerFor`) on clients of
 * their own, whose requests are counted by operation (RequestCounter). Both read the simulated clock,
 * and a monitor that watched would sleep on it too: an hour takes as long as its requests.
 *
 * @example
 * await quietStage(plane, from);
 * const hour = await idleHour({ prefix, clients: { monitor: own(), dispatcher: own() }, from });
 * hour.monitor['DynamoDB.Query(runs)']; // the monitor's Queries of the open runs in the hour
 */
import type { AwsClients } from '../core/adapters/aws-clients';
import type { ControlPlane } from '../core/adapters/control-plane';
import { silentLogger } from '../core/log';
import { isoSeconds, WorkerRegistrationSchema } from '../core/model';
import { plannerInput } from '../core/planner';
import { readConfig } from '../functions/config';
import { dispatcherHandlerFor } from '../functions/dispatcher/handler';
import { emfMetrics } from '../functions/metrics';
import { monitorHandlerFor } from '../functions/monitor/handler';
import type { FunctionParts } from '../functions/telemetry';
import { RequestCounter } from './aws-requests';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const QUIET_HANDLER = 'quiet.report';

/**
 * Defines a quiet stage on `plane`: a live worker that runs the jobs' handler (precise included),
 * whose lease outlasts the hour, and a REMOTE job, a LOCAL job and a precise job, each due once a
 * day about 12 hours after `from` (so none is due, missed or planned within the hour after it).
 */
export async function quietStage(plane: ControlPlane, from: number): Promise<void> {
  const due = new Date(from + 12 * HOUR_MS);
  const [minute, hour] = [due.getUTCMinutes(), due.getUTCHours()];
  const daily = `cron(${minute} ${hour} * * ? *)`;
  await plane.workers.register(
    WorkerRegistrationSchema.parse({
      workerId: 'quiet-worker',
      host: 'quiet',
      handlers: [QUIET_HANDLER],
      features: ['precise'],
    }),
    Date.now(),
    // The simulated hour runs ahead of the real clock: the lease must outlast it.
    3 * HOUR_MS,
  );
  await plane.jobService.define({
    jobId: 'quiet-remote',
    handler: QUIET_HANDLER,
    schedule: { expression: daily },
  });
  await plane.jobService.define({
    jobId: 'quiet-local',
    handler: QUIET_HANDLER,
    mode: 'LOCAL',
    schedule: { expression: daily },
  });
  await plane.jobService.define({
    jobId: 'quiet-precise',
    handler: QUIET_HANDLER,
    precision: 'SECOND',
    schedule: { expression: `0 ${minute} ${hour} * * ?` },
  });
}

export interface IdleHour {
  /** Requests by `Service.Operation(table or queue)` the monitor made in the hour. */
  readonly monitor: Record<string, number>;
  /** Requests by `Service.Operation(table or queue)` the dispatcher's planner passes made. */
  readonly planner: Record<string, number>;
  readonly monitorInvocations: number;
  readonly monitorSweeps: number;
  /** Monitor invocations that watched (swept every few seconds): none on a quiet stage. */
  readonly monitorWatched: number;
  readonly plannerPasses: number;
  /** EMF lines the two functions wrote: each bills the custom metrics it carries. */
  readonly metricLines: number;
  /** Mean wall time of a planner pass here, in ms: the emulator's, reported and not priced. */
  readonly plannerPassMs: number;
}

/** The event an EventBridge rule's schedule sends (the monitor's `rate(1 minute)` rule). */
function scheduledEvent(at: number) {
  return {
    version: '0',
    id: `idle-${at}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: isoSeconds(at),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:000000000000:rule/monitor'],
    detail: {},
  };
}

/**
 * One simulated hour of a quiet stage from `from` (a whole minute): the monitor invoked every
 * `everyMinutes.monitor` minutes and the planner every `everyMinutes.planner` (their schedules in the
 * template, bench/stage-inventory.ts), on `clients` (one set per function, as each Lambda has its
 * own). A monitor step that fails fails the hour (MonitorStepsFailedError), as does a planner pass
 * answered other than with its report.
 */
export async function idleHour(options: {
  readonly prefix: string;
  readonly clients: { readonly monitor: AwsClients; readonly dispatcher: AwsClients };
  readonly from: number;
  /** @default both every minute */
  readonly everyMinutes?: { readonly monitor: number; readonly planner: number };
}): Promise<IdleHour> {
  const { prefix, clients, from } = options;
  const every = options.everyMinutes ?? { monitor: 1, planner: 1 };
  let now = from;
  const clock = { now: () => now };
  const metricLines: string[] = [];
  // The stack's settings that change what these functions do at idle: the monitor's own defaults
  // (loop every 2 s while watching), and a dispatcher that wakes the monitor by Lambda Invoke.
  const parts = (fn: string, functionClients: AwsClients): FunctionParts => ({
    config: readConfig({ CLOVER_PREFIX: prefix, CLOVER_MONITOR_FUNCTION: `${prefix}-monitor` }),
    log: silentLogger,
    metrics: emfMetrics({ stage: prefix, fn, write: (line) => metricLines.push(line) }),
    clients: functionClients,
    traceId: () => undefined,
  });
  const counted = {
    monitor: new RequestCounter(clients.monitor, prefix),
    planner: new RequestCounter(clients.dispatcher, prefix),
  };
  const monitor = monitorHandlerFor(parts('monitor', clients.monitor), {
    env: {},
    clock,
    sleep: async (ms) => {
      now += ms;
    },
  });
  const dispatcher = await dispatcherHandlerFor(parts('dispatcher', clients.dispatcher), { clock });
  let monitorInvocations = 0;
  let monitorSweeps = 0;
  let monitorWatched = 0;
  let plannerPasses = 0;
  let plannerMs = 0;
  try {
    for (let minute = 0; minute < 60; minute += 1) {
      // A watching invocation may have slept past the minute: the next one starts no earlier.
      now = Math.max(now, from + minute * MINUTE_MS);
      const at = from + minute * MINUTE_MS;
      if (minute % every.monitor === 0) {
        const result = await monitor(scheduledEvent(at), { awsRequestId: `idle-monitor-${minute}` });
        monitorInvocations += 1;
        monitorSweeps += result.sweeps;
        if (result.watched) monitorWatched += 1;
      }
      if (minute % every.planner === 0) {
        const started = performance.now();
        const result = await dispatcher.invoke(plannerInput(isoSeconds(at)));
        plannerMs += performance.now() - started;
        if (result.status !== 'planner') {
          throw new Error(`the planner pass at minute ${minute} answered ${JSON.stringify(result)}`);
        }
        plannerPasses += 1;
      }
    }
  } finally {
    await dispatcher.plane.close();
  }
  return {
    monitor: counted.monitor.snapshot(),
    planner: counted.planner.snapshot(),
    monitorInvocations,
    monitorSweeps,
    monitorWatched,
    plannerPasses,
    metricLines: metricLines.length,
    plannerPassMs: plannerPasses > 0 ? Math.round(plannerMs / plannerPasses) : 0,
  };
}
