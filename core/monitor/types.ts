import type { DependentFires } from '../dependents';
import type { Dispatcher } from '../dispatch';
import type { JobService } from '../jobs';
import type { Logger } from '../log';
import type {
  AlertHook,
  AlertQueue,
  AlertStore,
  Clock,
  FireDeadLetters,
  JobStore,
  LockStore,
  RunLedger,
  WorkerRegistry,
} from '../ports';

export interface MonitorDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly locks: LockStore;
  readonly workers: WorkerRegistry;
  readonly dispatcher: Dispatcher;
  readonly jobService: JobService;
  /** Raises lost, timeout, misfire and job_unavailable alerts. */
  readonly alerts: AlertHook;
  /** Keeps the job_unavailable flags, so an outage alerts once. */
  readonly alertStore: AlertStore;
  /** EventBridge Scheduler's dead-letter queue; absent where there is none (unit tests, no DLQ configured). */
  readonly deadLetters?: FireDeadLetters;
  /** The alerts queue, to queue again alerts whose first send failed; without it they stay PENDING. */
  readonly alertQueue?: AlertQueue;
  /** Dependent jobs: fires those of runs this sweep finishes, repairs `downstream` lists, fires leftovers. */
  readonly dependents?: DependentFires;
  readonly clock: Clock;
  readonly log: Logger;
  readonly options?: MonitorOptions;
}

export interface MonitorOptions {
  /** A scheduled fire counts as missed once it is this old without a run. @default 60_000 */
  readonly misfireGraceMs?: number;
  /** OUT_OF_SYNC jobs are repaired once they have stayed so this long (a define in flight is not a drift). @default 30_000 */
  readonly syncGraceMs?: number;
  /**
   * Schedule repair, stale-lock release and dependency repair run at most this often, on a full read
   * of the jobs table; the sweeps between refresh their job list with the jobs changed since. @default 60_000
   */
  readonly housekeepingMs?: number;
  /**
   * How far before its previous read a warm sweep asks for changed jobs: covers the index's lag and
   * writers' clocks (a job's `updatedAt` is stamped before its write lands). @default 60_000
   */
  readonly jobChangeLagMs?: number;
  /** Most active runs looked at per status per sweep. @default 1000 */
  readonly maxActiveRuns?: number;
  /**
   * A DISPATCHED run still unclaimed this long after its dispatch has its envelope sent again, once per
   * dispatch (Dispatcher.resend). Well above normal queueing: a message waiting in a busy pool queue,
   * or held by a full agent, is claimed late, not lost — and the resend is then a spare copy that
   * cannot be claimed twice. @default 60_000
   */
  readonly unclaimedResendMs?: number;
  /** A final run still flagged `dependentsPending` this long after its write gets its dependents fired by the sweep. @default 30_000 */
  readonly dependentsGraceMs?: number;
}
