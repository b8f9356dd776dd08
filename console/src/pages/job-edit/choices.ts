/** The choices the job form offers for each of the spec's enumerations, with the words it shows. */
import type {
  ConcurrencyPolicy,
  DeliveryKind,
  JobMode,
  MisfirePolicy,
  RoutingStrategy,
  WaitForMode,
} from '../../api/types';

// Exhaustive over the core's unions: adding a strategy or policy in core fails the console's typecheck
// until it is offered here too.
export const MODES: Readonly<Record<JobMode, string>> = {
  REMOTE: 'REMOTE — fired by EventBridge Scheduler',
  LOCAL: "LOCAL — fired by the agents' own timers",
};
export const DELIVERIES: Readonly<Record<DeliveryKind, string>> = {
  SQS: 'SQS queue',
  ZMQ: 'ZeroMQ direct (SQS fallback)',
};
export const ROUTINGS: Readonly<Record<RoutingStrategy, string>> = {
  ROUND_ROBIN: 'Round robin',
  RANDOM: 'Random',
  LEAST_LOADED: 'Least loaded',
  CONSISTENT_HASH: 'Consistent hash (sticky)',
  FIRST: 'First by priority',
  FAILOVER: 'Failover in priority order',
  BROADCAST: 'Broadcast to every worker',
  ANY: 'Any (pool queue)',
};
export const CONCURRENCY: Readonly<Record<ConcurrencyPolicy, string>> = {
  FORBID: 'Forbid — skip a fire while a run is active',
  QUEUE: 'Queue — wait for the active run',
  REPLACE: 'Replace — cancel the active run',
  ALLOW: 'Allow — runs may overlap',
};
export const WAIT_FOR: Readonly<Record<WaitForMode, string>> = {
  ANY: 'Any — each upstream outcome fires it',
  ALL: 'All — once per chain, after every upstream',
};
export const MISFIRES: Readonly<Record<MisfirePolicy, string>> = {
  FIRE_ONCE_NOW: 'Fire once now',
  SKIP: 'Skip missed fires',
};
