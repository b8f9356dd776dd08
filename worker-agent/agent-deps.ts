/**
 * What the agent needs from the control plane (AgentDeps), and `sqsAgentDeps`, which wires the real
 * one over AWS or the emulator the clients point at. Tests pass their own, over fakes that pass the
 * ports' contract suites.
 */
import type { AwsClients } from '../core/adapters/aws-clients';
import { cloudWatchClient } from '../core/adapters/cloudwatch-client';
import { controlPlane } from '../core/adapters/control-plane';
import type { Dispatcher } from '../core/dispatch';
import type { RunExecution } from '../core/execution';
import type { JobService } from '../core/jobs';
import { type Logger, silentLogger } from '../core/log';
import type { Run } from '../core/model';
import type { Clock, JobStore, RunLedger, WorkerRegistry } from '../core/ports';
import { AgentMetrics } from './agent-metrics';
import type { DeclaredJobSync } from './api-sync';
import { ClockOffset, measureClockOffset } from './clock-offset';
import { type AgentQueues, sqsAgentQueues } from './sqs-queues';

/** What the agent needs from the control plane; `sqsAgentDeps` wires the real one. */
export interface AgentDeps {
  readonly workers: WorkerRegistry;
  readonly runs: RunLedger;
  readonly execution: Pick<RunExecution, 'claim' | 'complete' | 'handBack'>;
  /** Releases a final run's lock (Dispatcher.settle); used when a replayed outcome was written but its lock was not. */
  readonly settle: (run: Run) => Promise<void>;
  readonly queues: AgentQueues;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Job reads, for declarative sync and LOCAL mode. Without it neither runs. */
  readonly jobs?: Pick<JobStore, 'get' | 'list' | 'listLocal'>;
  /** Job writes (job, then schedule), for declarative sync. Without it `jobs:` is not synced. */
  readonly jobService?: Pick<JobService, 'define' | 'delete'>;
  /**
   * Declared jobs through the management API (api-sync.ts) instead of `jobs` + `jobService`: the API
   * runs the same sync with the same ownership rules, and the agent needs no job-table write rights.
   */
  readonly declaredJobSync?: DeclaredJobSync;
  /** Creates LOCAL fires' runs with the one-run-per-fire write. Without it no LOCAL job fires here. */
  readonly dispatcher?: Pick<Dispatcher, 'fireLocal'>;
  /** Start lateness and clock offset to CloudWatch (agent-metrics.ts). Without it none are sent. */
  readonly metrics?: Pick<AgentMetrics, 'recordStartLateness' | 'close'>;
}

/**
 * The control plane over AWS (or the emulator the clients point at) for a stage prefix.
 *
 * @example
 * const deps = sqsAgentDeps({ clients: awsClients(), prefix: process.env.CLOVER_PREFIX ?? 'clover-local' });
 */
export function sqsAgentDeps(options: {
  readonly clients: AwsClients;
  readonly prefix: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** For REMOTE declared jobs' schedules (stack outputs DispatcherArn, SchedulerRoleArn). @default placeholders the emulators accept */
  readonly dispatcherArn?: string;
  readonly schedulerRoleArn?: string;
  /** Warn when this host's clock is off the control plane's by more than this. @default DEFAULT_CLOCK_OFFSET_THRESHOLD_MS */
  readonly clockOffsetThresholdMs?: number;
  /** The monitor Lambda to wake when a LOCAL fire or a chained run starts while it idles (core/monitor/watch.ts). */
  readonly monitorFunction?: string;
}): AgentDeps {
  const metrics = new AgentMetrics({
    client: cloudWatchClient(options.clients),
    ownsClient: true,
    stage: options.prefix,
    log: (options.logger ?? silentLogger).child({ source: 'metrics' }),
  });
  // This host's clock against the control plane's (docs/precise-jobs.md, "Clocks"), from the Date of
  // the DynamoDB answers the agent gets anyway (lease renewals, claims).
  measureClockOffset(
    options.clients.dynamodb,
    new ClockOffset({
      log: (options.logger ?? silentLogger).child({ source: 'clock' }),
      ...(options.clockOffsetThresholdMs === undefined
        ? {}
        : { thresholdMs: options.clockOffsetThresholdMs }),
      report: (estimate) => metrics.recordClockOffset(estimate.offsetMs),
    }),
  );
  const plane = controlPlane({
    clients: options.clients,
    prefix: options.prefix,
    log: options.logger ?? silentLogger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.dispatcherArn ? { dispatcherArn: options.dispatcherArn } : {}),
    ...(options.schedulerRoleArn ? { schedulerRoleArn: options.schedulerRoleArn } : {}),
    ...(options.monitorFunction ? { monitor: { functionName: options.monitorFunction } } : {}),
  });
  return {
    workers: plane.workers,
    runs: plane.runs,
    execution: plane.execution,
    settle: (run) => plane.dispatcher.settle(run),
    queues: sqsAgentQueues(options.clients.sqs, options.prefix),
    clock: plane.clock,
    jobs: plane.jobs,
    jobService: plane.jobService,
    dispatcher: plane.dispatcher,
    metrics,
  };
}
