/**
 * The worker agent runtime: holds a lease, receives envelopes over SQS, claims and runs them, writes
 * their outcomes with the fence, journals what AWS does not take, and drains on request.
 *
 *   IDLE ─start()─► STARTING ─► RUNNING ─close()─► DRAINING ─► STOPPED
 *                              RUNNING ─lease lost─► LOST ─► STOPPED
 *   STARTING ─failure─► STOPPED (start() rejects after undoing what it did)
 *
 * - STARTING: register the config file's handlers; replay what an earlier process journaled; create
 *   the worker's own queue; find the pool's queue; register the lease (handlers, pool, labels,
 *   capacity, priority, endpoints.queueUrl); start the LeaseKeeper and the receive loops; sync the
 *   config's declared `jobs:` (job-sync.ts; a conflict is logged as an error, never fatal); start
 *   LocalFires for the LOCAL jobs whose handlers are registered here (each won fire → execute()).
 * - RUNNING: long-poll the own queue and the pool queue while a capacity slot is free. An envelope is
 *   only a pointer: the claim (DISPATCHED → RUNNING, RunLedger.claim) is one conditional write that
 *   succeeds only for a run dispatched to this worker (or to its pool) with the envelope's fence and
 *   with every other field the envelope names equal to the record's; the handler then runs what the
 *   claimed record says (handler, payload, attempt, deadline). The message is deleted once the claim
 *   is decided — won, or refused (the run does not exist, is not waiting, or the envelope disagrees
 *   with the record: logged with what differed, record untouched). A message that cannot be decoded
 *   or validated is moved to the queue's dead-letter queue on its first receipt, with the reason. The
 *   handler runs with a context (payload, progress, batched log, an AbortSignal for cancel, deadline,
 *   lease loss and drain); its outcome is written with the fence (RunExecution.complete).
 * - Cancel without ZeroMQ: every `cancelPollMs` a run that had no other answer from the control plane
 *   is read back; `cancelRequested` aborts the handler (outcome CANCELLED), and a run that is no longer
 *   this attempt's (CANCELLED, TIMED_OUT, LOST, re-dispatched) is aborted and nothing is written.
 * - Outage: a write that fails with a retryable error (AWS did not answer) is appended to the
 *   Journal (fsync'd) instead, and from then on outcomes and log lines go to the journal, in order,
 *   until a background replay (every `replayIntervalMs`) has applied all of it. Progress is not
 *   journaled. A refused write on replay (the fence moved on) counts as applied and is logged. An
 *   entry the journal cannot take (a full or failing disk) is kept in memory, with every later one
 *   behind it, and replayed after the journal: AWS still gets it unless this process dies first.
 * - DRAINING (close(), SIGTERM, or an operator's drain read back by a lease renewal): LOCAL fires stop first (a fire won meanwhile is handed back); the
 *   lease goes DRAINING; receiving stops; running runs get
 *   `drainGraceMs` to finish; at the deadline each one still running is handed back
 *   (RunExecution.handBack, fenced) and then aborted; envelopes still in the own queue are handed
 *   back too; the lease is released (GONE) and the own queue deleted. `close({ force: true })` (a
 *   second signal) skips the grace. Every step runs even if an earlier one failed.
 * - LOST (the LeaseKeeper's `lost`): stop receiving, abort every run, hand them back (the fence
 *   refuses that if the run was already recovered elsewhere), release what can be released, and stop.
 *   The own queue is kept: a supervisor restarts the agent, which registers a new lease.
 *
 * @example
 * const agent = new Agent({ config, deps: sqsAgentDeps({ clients, prefix }), logger });
 * agent.handle('report.daily', async (ctx) => ({ rows: 12 }));
 * await agent.start();
 * process.once('SIGTERM', () => void agent.close());
 * const { reason } = await agent.stopped; // 'closed' | 'lease_lost'
 */
import { hostname } from 'node:os';
import type { AwsClients } from '../core/adapters/aws-clients';
import { controlPlane } from '../core/adapters/control-plane';
import type { InboxMessage } from '../core/adapters/sqs-inbox';
import type { Dispatcher } from '../core/dispatch';
import { claimFromEnvelope, type DispatchEnvelope } from '../core/envelope';
import { CloverError, NotFoundError, UnknownHandlerError } from '../core/errors';
import type { RunExecution, RunOutcome } from '../core/execution';
import type { JobService } from '../core/jobs';
import { FailureLog, type Logger, runLogScope, silentLogger } from '../core/log';
import {
  claimDifferences,
  isFinal,
  type Run,
  type RunError,
  RunStatuses,
  type Worker,
  WorkerRegistrationSchema,
} from '../core/model';
import { type Clock, type JobStore, type RunLedger, systemClock, type WorkerRegistry } from '../core/ports';
import type { DeclaredJobSync } from './api-sync';
import type { AgentConfig } from './config';
import type { HandlerFunction } from './handler';
import { baseHandlerEnv, type EnvSource } from './handler-env';
import { type DecodedMessage, HeldMessages } from './held-messages';
import {
  JobOwnershipError,
  ownerIdFor,
  type SyncConflict,
  type SyncResult,
  syncDeclaredJobs,
} from './job-sync';
import { Journal, type JournalEntry, lockJournalDir } from './journal';
import { LeaseKeeper, type LeaseLostReason } from './lease';
import { type LocalFireEvent, LocalFires } from './local-fires';
import { currentOf, isRefusal, logRefusedClaim } from './refusals';
import { HandlerRegistry } from './registry';
import { RunAbortedError, RunSlot } from './run-context';
import { type AgentQueue, type AgentQueues, sqsAgentQueues } from './sqs-queues';
import { type AcceptResult, ZmqIntake } from './zmq-intake';

/**
 * How long before its instant the agent decides (writes and claims) a LOCAL fire, so that at the
 * instant only the handler has to start: above the write and claim's round trips, even on a busy host.
 */
export const DEFAULT_AGENT_LEAD_MS = 300;

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
}): AgentDeps {
  const plane = controlPlane({
    clients: options.clients,
    prefix: options.prefix,
    log: options.logger ?? silentLogger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.dispatcherArn ? { dispatcherArn: options.dispatcherArn } : {}),
    ...(options.schedulerRoleArn ? { schedulerRoleArn: options.schedulerRoleArn } : {}),
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
  };
}

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly deps: AgentDeps;
  /** Handlers registered in code; the config file's are added on start. @default a new registry */
  readonly registry?: HandlerRegistry;
  readonly logger?: Logger;
  /**
   * The agent's own environment, from which handlers get only the base variables and the names the
   * config's `handlerEnv.passThrough` lists (handler-env.ts). @default process.env
   */
  readonly env?: EnvSource;
  /** @default os.hostname() */
  readonly host?: string;
  /** Long-poll wait of each receive. @default 20 */
  readonly receiveWaitSeconds?: number;
  /** How often log lines and progress are written. @default 1000 */
  readonly flushIntervalMs?: number;
  /** How often a running run with no other answer is read back for cancel. @default 3000 */
  readonly cancelPollMs?: number;
  /** How often the journal is replayed while it holds anything. @default config.heartbeatIntervalMs */
  readonly replayIntervalMs?: number;
  /** After a lease loss or a drain's deadline, how long aborted handlers get to return. @default 10000 */
  readonly abortWaitMs?: number;
  /** LOCAL mode tuning (local-fires.ts): job list refresh, busy delay, and a per-fire callback (jitter). */
  readonly local?: {
    readonly refreshIntervalMs?: number;
    /** How long before its instant a LOCAL fire is decided and claimed (local-fires.ts). @default 300 */
    readonly leadMs?: number;
    readonly busyDelayMs?: number;
    readonly onFire?: (event: LocalFireEvent) => void;
  };
}

export type AgentState = 'IDLE' | 'STARTING' | 'RUNNING' | 'DRAINING' | 'LOST' | 'STOPPED';

export interface AgentStopped {
  /** `closed`: close() (drain) finished; `lease_lost`: the lease was lost and the agent stopped. */
  readonly reason: 'closed' | 'lease_lost';
  /** Cleanup steps that failed (each was logged; the others still ran). */
  readonly errors: readonly unknown[];
}

/** What became of one envelope handed to {@link Agent.execute}. */
export type ExecuteResult =
  | { readonly kind: 'completed'; readonly outcome: RunOutcome }
  | { readonly kind: 'journaled'; readonly outcome: RunOutcome }
  | { readonly kind: 'refused'; readonly outcome: RunOutcome }
  | { readonly kind: 'not_claimed'; readonly error: unknown }
  | { readonly kind: 'handed_back' }
  | { readonly kind: 'dropped'; readonly why: string };

/** Batches of poison being moved to the dead-letter queue at once, per queue, while receiving goes on. */
const MAX_DEAD_LETTER_BATCHES_IN_FLIGHT = 4;
/** Pause after a failed receive before the next one. */
const RECEIVE_BACKOFF_MS = 1000;
const MAX_TIMER_MS = 2_147_483_647;

export class Agent {
  readonly config: AgentConfig;
  readonly registry: HandlerRegistry;
  private readonly deps: AgentDeps;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** One line per failing call kind while AWS does not answer, not one per retry. */
  private readonly failures: FailureLog;
  private readonly journal: Journal;
  /** What every handler's environment starts from: the base and pass-through names of the agent's env. */
  private readonly handlerEnv: Readonly<Record<string, string>>;
  private releaseJournal: (() => Promise<void>) | undefined;
  private readonly options: AgentOptions;
  private state: AgentState = 'IDLE';
  private worker: Worker | undefined;
  private keeper: LeaseKeeper | undefined;
  private ownQueue: AgentQueue | undefined;
  private poolQueue: AgentQueue | null = null;
  private readonly running = new Map<string, RunSlot>();
  /** Slots taken by claims in flight. */
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  private receiveStop = new AbortController();
  private loops: Promise<void>[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private replayer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** True while the journal may hold entries: outcomes and logs go there too, to keep their order. */
  private outage = false;
  private journalAppends = 0;
  /** Entries the journal could not take, in order; replayed after it (see the header). */
  private readonly unjournaled: JournalEntry[] = [];
  private replaying: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private forceDrain: (() => void) | undefined;
  private forced = false;
  private resolveStopped!: (stopped: AgentStopped) => void;
  private localFires: LocalFires | undefined;
  /** The ZeroMQ intake, when the config has a `zmq:` section (zmq-intake.ts). */
  private zmqIntake: ZmqIntake | undefined;
  private syncResult: SyncResult | undefined;
  /** Settles once the agent has stopped for good: after close() or a lost lease. */
  readonly stopped: Promise<AgentStopped>;

  constructor(options: AgentOptions) {
    this.options = options;
    this.config = options.config;
    this.deps = options.deps;
    this.clock = options.deps.clock ?? systemClock;
    this.registry = options.registry ?? new HandlerRegistry();
    this.log = (options.logger ?? silentLogger).child({ workerId: options.config.workerId });
    this.failures = new FailureLog(this.log, () => this.clock.now());
    this.journal = new Journal({ dir: options.config.journalDir, logger: this.log });
    this.handlerEnv = baseHandlerEnv(options.env ?? process.env, options.config.handlerEnv.passThrough);
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  get workerId(): string {
    return this.config.workerId;
  }

  get status(): AgentState {
    return this.state;
  }

  /** The lease as registered (after start). */
  get lease(): Worker | undefined {
    return this.worker;
  }

  /** Runs in progress. */
  get load(): number {
    return this.running.size;
  }

  /** True while a capacity slot is free and the agent takes work. */
  hasCapacity(): boolean {
    return this.state === 'RUNNING' && this.running.size + this.reserved < this.config.capacity;
  }

  /** Registers a handler in code (before start). */
  handle(name: string, fn: HandlerFunction): this {
    this.registry.register(name, fn);
    return this;
  }

  /** Starts the agent (see the header). Rejects, after undoing what it did, if it cannot. */
  start(): Promise<void> {
    if (this.state !== 'IDLE') return this.starting ?? Promise.reject(new Error(`agent is ${this.state}`));
    this.state = 'STARTING';
    this.starting = this.doStart().catch(async (error: unknown) => {
      this.log.log('error', 'agent could not start', { error });
      await this.shutdown('closed', { drain: false, removeQueue: false });
      throw error;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { config } = this;
    await this.registry.registerConfig(config.handlers);
    this.releaseJournal = await lockJournalDir(config.journalDir);
    if ((await this.journal.pending()) > 0) {
      this.outage = true;
      this.log.log('info', 'replaying the outage journal left by an earlier process', {
        pending: await this.journal.pending(),
      });
      await this.replayJournal();
    }
    this.ownQueue = await this.deps.queues.own(config.workerId);
    try {
      this.poolQueue = await this.deps.queues.pool(config.pool);
    } catch (error) {
      this.log.log('warn', 'pool queue lookup failed; receiving on the own queue only', {
        pool: config.pool,
        error,
      });
    }
    if (config.zmq) {
      this.zmqIntake = new ZmqIntake({
        agent: this,
        config: config.zmq,
        host: this.options.host ?? hostname(),
        log: this.log,
      });
    }
    const zmqEndpoints = await this.zmqIntake?.start();
    const registration = WorkerRegistrationSchema.parse({
      workerId: config.workerId,
      host: (this.options.host ?? hostname()).slice(0, 255) || 'unknown',
      pool: config.pool,
      handlers: this.registry.names(),
      labels: config.labels,
      capacity: config.capacity,
      priority: config.priority,
      endpoints: { queueUrl: this.ownQueue.queueUrl, ...zmqEndpoints },
      // Holding planned fires needs what LOCAL fires need: the job store and the dispatcher's write.
      features: this.deps.jobs && this.deps.dispatcher ? ['precise'] : [],
    });
    this.worker = await this.deps.workers.register(registration, this.clock.now(), config.leaseTtlMs);
    this.keeper = new LeaseKeeper({
      registry: this.deps.workers,
      worker: this.worker,
      intervalMs: config.heartbeatIntervalMs,
      ttlMs: config.leaseTtlMs,
      load: () => this.running.size,
      clock: this.clock,
      logger: this.log,
    });
    this.keeper.on('lost', (reason) => this.onLeaseLost(reason));
    this.keeper.on('renewed', (worker) => this.onRenewed(worker));
    this.keeper.start();
    this.state = 'RUNNING';
    for (const queue of [this.ownQueue, this.poolQueue]) {
      if (queue) this.loops.push(this.receiveLoop(queue, queue === this.ownQueue));
    }
    this.ticker = setInterval(() => void this.tick(), this.options.flushIntervalMs ?? 1000);
    this.replayer = setInterval(
      () => void this.replayJournal(),
      this.options.replayIntervalMs ?? config.heartbeatIntervalMs,
    );
    await this.syncJobs();
    await this.startLocalFires();
    this.log.log('info', 'agent started', {
      pool: config.pool,
      capacity: config.capacity,
      handlers: registration.handlers,
      leaseFence: this.worker.leaseFence,
      queueUrl: this.ownQueue.queueUrl,
      poolQueueUrl: this.poolQueue?.queueUrl,
      localJobs: [...(this.localFires?.schedule().keys() ?? [])],
    });
  }

  /** The LOCAL jobs this agent fires, each with its next instant (epoch ms; null when none is left). */
  get localJobs(): ReadonlyMap<string, number | null> {
    return this.localFires?.schedule() ?? new Map();
  }

  /** What the start-up sync of the config's `jobs:` did (undefined when it did not run or failed). */
  get declaredJobs(): SyncResult | undefined {
    return this.syncResult;
  }

  // ── declared jobs and LOCAL mode ─────────────────────────────────────────────────────────────

  /**
   * Syncs the config's `jobs:` and the jobs declared on `@handler` decorators (job-sync.ts) under the
   * config's owner id. Runs when jobs are declared
   * or `jobsOwner` is set (so that an agent without `jobs:` never deletes jobs of a config that shares
   * its file name). A declared id held by a job this config does not own is a conflict: logged as an
   * error, that job left alone, the rest synced. No sync failure stops the agent.
   */
  private async syncJobs(): Promise<void> {
    const { config } = this;
    const declaredHere = [...config.jobs, ...this.registry.declaredJobs()];
    if (declaredHere.length === 0 && config.jobsOwner === undefined) return;
    const owner = ownerIdFor({
      pool: config.pool,
      configFile: config.file,
      ...(config.jobsOwner === undefined ? {} : { name: config.jobsOwner }),
    });
    const { jobs, jobService, declaredJobSync } = this.deps;
    const sync: DeclaredJobSync | undefined =
      declaredJobSync ??
      (jobs && jobService
        ? (input) => syncDeclaredJobs({ jobService, jobs, ...input, log: this.log })
        : undefined);
    if (!sync) {
      this.log.log('warn', 'declared jobs not synced: no job store or API wired into this agent', { owner });
      return;
    }
    const taken: SyncConflict[] = [];
    let declared = declaredHere;
    let result: SyncResult;
    try {
      for (;;) {
        try {
          result = await sync({ owner, declared });
          break;
        } catch (error) {
          if (!(error instanceof JobOwnershipError)) throw error;
          // Leave that job alone and sync the others (it is not ours, so it is never deleted either).
          taken.push({ jobId: error.jobId, action: 'add', reason: error.message });
          declared = declared.filter((spec) => spec.jobId !== error.jobId);
        }
      }
    } catch (error) {
      this.log.log('error', 'declared jobs could not be synced; running on without the sync', {
        owner,
        error,
      });
      return;
    }
    const conflicts = [...taken, ...result.conflicts].sort((a, b) => a.jobId.localeCompare(b.jobId));
    this.syncResult = { ...result, conflicts };
    for (const conflict of conflicts) {
      this.log.log('error', 'declared job conflict: left as it is', { owner, ...conflict });
    }
    this.log.log('info', 'declared jobs synced', {
      owner,
      added: result.added,
      updated: result.updated,
      deleted: result.deleted,
      unchanged: result.unchanged,
      conflicts: conflicts.map((c) => c.jobId),
    });
  }

  /** Starts firing the LOCAL jobs this agent can run (local-fires.ts); each won fire goes to execute(). */
  private async startLocalFires(): Promise<void> {
    const { jobs, dispatcher } = this.deps;
    if (!jobs || !dispatcher || this.state !== 'RUNNING') return;
    const tuning = this.options.local ?? {};
    this.localFires = new LocalFires({
      workerId: this.workerId,
      pool: this.config.pool,
      labels: this.config.labels,
      jobs,
      dispatcher,
      hasHandler: (name) => this.registry.has(name),
      hasCapacity: () => this.hasCapacity(),
      execute: ({ run, envelope, startAt }) => this.executeLocal(run, envelope, startAt),
      leadMs: tuning.leadMs ?? DEFAULT_AGENT_LEAD_MS,
      clock: this.clock,
      log: this.log,
      ...(tuning.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: tuning.refreshIntervalMs }),
      ...(tuning.busyDelayMs === undefined ? {} : { busyDelayMs: tuning.busyDelayMs }),
      ...(tuning.onFire ? { onFire: tuning.onFire } : {}),
    });
    await this.localFires.start();
  }

  /**
   * Holds a precise job's planned fire until its instant (LocalFires.hold); the decision there is the
   * ledger's, so a repeated or stale plan costs nothing but a refused write. False while LOCAL fires
   * are not started (or stopped).
   */
  private holdPlan(envelope: DispatchEnvelope): boolean {
    if (envelope.startAt === undefined || !this.localFires) return false;
    const held = this.localFires.hold({
      runId: envelope.runId,
      jobId: envelope.jobId,
      scheduledTime: envelope.scheduledTime,
      startAt: envelope.startAt,
      fence: envelope.fence,
    });
    if (held) {
      this.log.log('debug', 'planned fire held', {
        jobId: envelope.jobId,
        runId: envelope.runId,
        fence: envelope.fence,
      });
    }
    return true;
  }

  /** Runs a LOCAL fire this agent won. One it cannot start (stopping, claim not answered) is handed back. */
  private async executeLocal(run: Run, envelope: DispatchEnvelope, startAt: number): Promise<void> {
    // execute() checks the state first thing, synchronously: this check agrees with it.
    if (this.state !== 'RUNNING') {
      await this.handBackUnstarted(run, `worker ${this.state}: LOCAL fire not started`);
      return;
    }
    const result = await this.execute(envelope, { startAt });
    if (
      result.kind === 'not_claimed' &&
      !isRefusal(result.error) &&
      !(result.error instanceof NotFoundError)
    ) {
      await this.handBackUnstarted(run, 'claim failed: LOCAL fire not started');
    }
  }

  private async handBackUnstarted(run: Run, note: string): Promise<void> {
    const log = this.log.child(runLogScope(run));
    try {
      await this.deps.execution.handBack(run, note);
      log.log('info', 'LOCAL fire handed back', { note });
    } catch (error) {
      log.log('warn', 'LOCAL fire could not be handed back; the monitor recovers it', { note, error });
    }
  }

  /**
   * Drains and stops (see the header): DRAINING, stop receiving, let runs finish within
   * `drainGraceMs` (`force`: no grace), hand back the rest, release the lease, delete the own queue.
   * Resolves when every step has run; a second call with `force` cuts a running drain's grace short.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force) {
      this.forced = true;
      this.forceDrain?.();
    }
    this.closing ??= (async () => {
      await this.starting?.catch(() => {});
      if (this.state === 'STOPPED') return;
      await this.shutdown('closed', { drain: true, removeQueue: true });
    })();
    return this.closing;
  }

  /**
   * Claims and runs one envelope outside the receive loop — for LOCAL mode, where the agent creates the
   * run itself (DISPATCHED to this worker, with its fence) and then calls this. Claims with the fence,
   * runs the registered handler with a context, and writes (or journals) the outcome, exactly as for
   * an envelope received over SQS. It does not check capacity: call {@link hasCapacity} first.
   *
   * @example
   * if (agent.hasCapacity()) {
   *   const result = await agent.execute(envelopeFor(run, deadlineAt, Date.now()));
   *   if (result.kind === 'not_claimed') log.log('info', 'another agent has it');
   * }
   */
  async execute(
    envelope: DispatchEnvelope,
    options: { readonly startAt?: number } = {},
  ): Promise<ExecuteResult> {
    if (this.state !== 'RUNNING') return { kind: 'dropped', why: `agent is ${this.state}` };
    let run: Run;
    this.reserved += 1;
    try {
      run = await this.deps.execution.claim(envelope, this.workerId);
    } catch (error) {
      return { kind: 'not_claimed', error };
    } finally {
      this.reserved -= 1;
    }
    return this.startClaimed(run, envelope, options.startAt).result;
  }

  /**
   * Takes an envelope delivered outside the SQS loops (the ZeroMQ intake): a free slot (checked and
   * reserved synchronously, so concurrent offers never overbook), then the claim with the envelope's
   * fence. Resolves once the claim is decided: `started` (the handler runs; `result` settles at its
   * end), `refused` (full or not running; nothing written) or `not_claimed` (the claim's error).
   */
  async offer(envelope: DispatchEnvelope): Promise<AcceptResult> {
    if (this.state !== 'RUNNING') return { kind: 'refused', why: `agent is ${this.state}` };
    if (envelope.startAt !== undefined) {
      return this.holdPlan(envelope)
        ? { kind: 'held' }
        : { kind: 'refused', why: 'planned fires not held here yet' };
    }
    if (!this.hasCapacity()) {
      return { kind: 'refused', why: `full: ${this.running.size} of ${this.config.capacity} slots busy` };
    }
    this.reserved += 1;
    let run: Run;
    try {
      run = await this.deps.execution.claim(envelope, this.workerId);
    } catch (error) {
      this.reserved -= 1;
      this.wakeSlotWaiters();
      return { kind: 'not_claimed', error };
    }
    const started = this.startClaimed(run, envelope);
    this.reserved -= 1;
    return { kind: 'started', result: started.result };
  }

  /**
   * Aborts a run running here as cancelled (a ZeroMQ cancel). Without ZeroMQ the same happens at the
   * next read-back of the run (`cancelPollMs`) when its record has `cancelRequested`. False when the
   * run is not running here.
   */
  cancel(runId: string, reason = 'cancel requested'): boolean {
    const slot = this.running.get(runId);
    if (!slot || slot.aborted) return false;
    slot.abort('cancelled', reason);
    return true;
  }

  // ── receiving ────────────────────────────────────────────────────────────────────────────────

  /**
   * Receives while a slot is free. The own queue holds only runs dispatched here: full batches are
   * received from it, and envelopes beyond the free slots are held (HeldMessages) until slots free
   * up, so poison in front of them is cleared ten at a time. The pool queue is shared: only what fits
   * is received, and the rest is left to other workers.
   */
  private async receiveLoop(queue: AgentQueue, own: boolean): Promise<void> {
    const signal = this.receiveStop.signal;
    const waitSeconds = this.options.receiveWaitSeconds ?? 20;
    const deadLettering = new Set<Promise<void>>();
    const held = new HeldMessages(queue, this.log);
    while (this.state === 'RUNNING' && !signal.aborted) {
      await this.slotFree(signal);
      if (this.state !== 'RUNNING' || signal.aborted) break;
      const free = this.config.capacity - this.running.size - this.reserved;
      if (held.size > 0) {
        await Promise.all(held.take(free).map((message) => this.accept(queue, message)));
        continue;
      }
      let messages: Awaited<ReturnType<AgentQueue['receive']>>;
      try {
        messages = await queue.receive({ maxMessages: own ? 10 : Math.min(10, free), waitSeconds, signal });
        this.failures.succeeded(`receive ${queue.queueUrl}`);
      } catch (error) {
        if (signal.aborted) break;
        this.failures.failed(`receive ${queue.queueUrl}`, 'receive failed; retrying', {
          queueUrl: queue.queueUrl,
          error,
        });
        await sleep(RECEIVE_BACKOFF_MS, signal);
        continue;
      }
      // Poison is moved aside in the background (a few batches at a time), so a flood of it costs
      // the loop one receive per batch and real work behind it is reached as fast as receives go.
      const poison = messages.filter((message) => !message.ok);
      if (poison.length > 0) {
        const moving = this.deadLetter(queue, poison).finally(() => deadLettering.delete(moving));
        deadLettering.add(moving);
        if (deadLettering.size >= MAX_DEAD_LETTER_BATCHES_IN_FLIGHT) await Promise.race(deadLettering);
      }
      const valid = messages.filter((message): message is DecodedMessage => message.ok);
      const room = Math.max(0, this.config.capacity - this.running.size - this.reserved);
      held.add(valid.slice(room));
      await Promise.all(valid.slice(0, room).map((message) => this.accept(queue, message)));
    }
    await Promise.all(deadLettering);
    await held.release();
  }

  /**
   * Moves messages that cannot be decoded or validated to the queue's dead-letter queue on their first
   * receipt, with the reason: they never come back, so garbage never takes capacity meant for runs.
   */
  private async deadLetter(queue: AgentQueue, poison: readonly InboxMessage[]): Promise<void> {
    const letters = poison.flatMap((message) =>
      message.ok
        ? []
        : [
            {
              receipt: message.receipt,
              body: message.body,
              reason: message.error.message,
              receiveCount: message.receiveCount,
            },
          ],
    );
    if (letters.length === 0) return;
    let message = 'malformed message moved to the dead-letter queue';
    try {
      const result = await queue.deadLetter(letters);
      if (result.deadLetterQueueUrl === undefined)
        message = 'malformed message deleted: the queue has no dead-letter queue';
    } catch (error) {
      // Left in place: the next receive tries again, and the queue's redrive policy still applies.
      this.log.log('error', 'malformed messages could not be moved to the dead-letter queue', {
        queueUrl: queue.queueUrl,
        count: letters.length,
        error,
      });
      return;
    }
    for (const letter of letters) {
      this.log.log('warn', message, {
        queueUrl: queue.queueUrl,
        reason: letter.reason,
        receiveCount: letter.receiveCount,
      });
    }
  }

  private async accept(queue: AgentQueue, message: DecodedMessage) {
    const { envelope } = message;
    const log = this.log.child(runLogScope(envelope));
    if (envelope.startAt !== undefined) {
      // A plan takes no slot until its instant; one not held (fires not started yet) comes back later.
      const settle = this.holdPlan(envelope) ? queue.ack(message.receipt) : queue.release(message.receipt);
      await settle.catch((error: unknown) => log.log('warn', 'planned fire message not settled', { error }));
      return;
    }
    if (!this.hasCapacity()) {
      await queue
        .release(message.receipt)
        .catch((error: unknown) => log.log('warn', 'could not release a message', { error }));
      return;
    }
    this.reserved += 1;
    let run: Run;
    try {
      run = await this.deps.execution.claim(envelope, this.workerId);
    } catch (error) {
      this.reserved -= 1;
      if (isRefusal(error) || error instanceof NotFoundError) {
        logRefusedClaim(log, envelope, error, 'claim refused: message deleted');
        await queue
          .ack(message.receipt)
          .catch((ackError: unknown) => log.log('warn', 'ack failed', { error: ackError }));
      } else {
        log.log('warn', 'claim failed; the message will be delivered again', { error });
      }
      return;
    }
    // The claim is decided: whatever happens to the ack, a second delivery will find the run claimed.
    const started = this.startClaimed(run, envelope);
    this.reserved -= 1;
    await queue
      .ack(message.receipt)
      .catch((error: unknown) => log.log('warn', 'ack failed; a redelivery will be refused', { error }));
    void started.result;
  }

  private slotFree(signal: AbortSignal): Promise<void> {
    if (this.running.size + this.reserved < this.config.capacity) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.slotWaiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  // ── running ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Starts a run this agent has just claimed — unless the agent left RUNNING while the claim was in
   * flight (its lease was lost, or a drain began): a worker that stopped taking work starts nothing,
   * so the run goes back to PENDING for another worker instead of running beside a recovery.
   */
  private startClaimed(
    run: Run,
    envelope: DispatchEnvelope,
    startAt?: number,
  ): { result: Promise<ExecuteResult> } {
    if (this.state === 'RUNNING') return this.startRun(run, envelope, startAt);
    const note = `worker ${this.state}: claimed run not started`;
    const log = this.log.child(runLogScope(run));
    const result = this.deps.execution.handBack(run, note).then(
      (): ExecuteResult => {
        log.log('info', 'run handed back', { note });
        return { kind: 'handed_back' };
      },
      (error: unknown): ExecuteResult => {
        log.log('warn', 'claimed run could not be handed back; the monitor recovers it', { note, error });
        return { kind: 'handed_back' };
      },
    );
    return { result };
  }

  private startRun(
    run: Run,
    envelope: DispatchEnvelope,
    startAt?: number,
  ): { result: Promise<ExecuteResult> } {
    const slot = new RunSlot(envelope, run, this.clock.now(), () => void this.flush(slot));
    this.running.set(run.runId, slot);
    const result = this.runToEnd(slot, startAt).finally(() => {
      this.running.delete(run.runId);
      this.wakeSlotWaiters();
    });
    slot.done = result.then(
      () => undefined,
      () => undefined,
    );
    return { result };
  }

  /**
   * Runs what the claimed record says (handler, payload, attempt, deadline), never what the envelope
   * said — not before `startAt` (a LOCAL fire decided ahead of its instant holds its slot until then;
   * aborted meanwhile, it ends as an aborted handler would, without the handler being called).
   */
  private async runToEnd(slot: RunSlot, startAt?: number): Promise<ExecuteResult> {
    const { run } = slot;
    const log = this.log.child(runLogScope(run));
    const early = startAt === undefined ? 0 : startAt - this.clock.now();
    if (early > 0) await sleep(early, slot.signal);
    const abortedEarly: unknown = slot.aborted ? slot.signal.reason : undefined;
    const startedAt = this.clock.now();
    const startLateMs = lateness(run, startedAt);
    const untilDeadline = slot.deadlineAt - startedAt;
    const deadline = setTimeout(
      () => slot.abort('deadline', `deadline ${new Date(slot.deadlineAt).toISOString()} passed`),
      Math.min(MAX_TIMER_MS, Math.max(0, untilDeadline)),
    );
    log.log('info', 'run started', {
      handler: run.handler,
      attempt: run.attempt,
      fence: run.fence,
      jobVersion: run.jobVersion,
      ...(startLateMs === undefined ? {} : { startLateMs }),
    });
    let outcome: RunOutcome;
    try {
      if (abortedEarly !== undefined) throw abortedEarly;
      const handler = this.registry.get(run.handler);
      const result = await handler(slot.context(this.handlerEnv));
      outcome = { status: 'SUCCEEDED', ...(result === undefined ? {} : { result }) };
    } catch (error) {
      outcome = this.failure(slot, error);
    } finally {
      clearTimeout(deadline);
    }
    log.log(outcome.status === 'SUCCEEDED' ? 'info' : 'warn', 'handler finished', {
      status: outcome.status,
      durationMs: this.clock.now() - startedAt,
      ...('error' in outcome && outcome.error ? { error: outcome.error } : {}),
      ...(slot.cause ? { abortCause: slot.cause } : {}),
    });
    if (slot.handedBack) return { kind: 'handed_back' };
    if (slot.cause === 'superseded') {
      log.log('info', 'the run is no longer this attempt’s; outcome not written');
      return { kind: 'dropped', why: 'superseded' };
    }
    if (slot.cause === 'lease_lost' && outcome.status !== 'SUCCEEDED') {
      await this.flush(slot, true);
      return (await this.handBack(slot, 'worker lost its lease'))
        ? { kind: 'handed_back' }
        : { kind: 'refused', outcome };
    }
    await this.flush(slot, true);
    return this.writeOutcome(
      startLateMs === undefined ? slot.run : { ...slot.run, startLateMs },
      outcome,
      log,
    );
  }

  private failure(slot: RunSlot, error: unknown): RunOutcome {
    const aborted = slot.signal.reason instanceof RunAbortedError ? slot.signal.reason : undefined;
    if (slot.cause === 'cancelled') {
      return { status: 'CANCELLED', error: { code: 'cancelled', message: aborted?.message ?? 'cancelled' } };
    }
    if (slot.cause === 'deadline') {
      return {
        status: 'TIMED_OUT',
        error: {
          code: 'deadline_exceeded',
          message: aborted?.message ?? 'deadline passed',
          ...stackOf(error),
        },
      };
    }
    return { status: 'FAILED', error: runError(error) };
  }

  /** Writes the outcome with the fence; journals it when AWS does not answer. */
  private async writeOutcome(run: Run, outcome: RunOutcome, log: Logger): Promise<ExecuteResult> {
    if (this.outage) {
      await this.journalOutcome(run, outcome, log);
      return { kind: 'journaled', outcome };
    }
    try {
      const written = await this.deps.execution.complete(run, outcome);
      log.log('info', 'run completed', { status: written.status });
      return { kind: 'completed', outcome };
    } catch (error) {
      if (isRefusal(error) || error instanceof NotFoundError) {
        log.log('warn', 'outcome refused by the fence: the run belongs to another attempt now', {
          fence: run.fence,
          status: currentOf(error)?.status,
          owner: currentOf(error)?.workerId,
        });
        return { kind: 'refused', outcome };
      }
      if (isUnavailable(error)) {
        log.log('warn', 'control plane unavailable: outcome journaled', { error });
        await this.journalOutcome(run, outcome, log);
        return { kind: 'journaled', outcome };
      }
      log.log('error', 'outcome could not be written', { error });
      return { kind: 'dropped', why: error instanceof Error ? error.message : String(error) };
    }
  }

  private async journalOutcome(run: Run, outcome: RunOutcome, log: Logger): Promise<void> {
    await this.appendJournal(
      {
        kind: 'outcome',
        runId: run.runId,
        fence: run.fence,
        attempt: run.attempt,
        outcome,
        at: this.clock.now(),
      },
      log,
    );
  }

  /** To the journal, or — once it has refused an entry, until replay drains them — to memory, in order. */
  private async appendJournal(entry: JournalEntry, log: Logger): Promise<void> {
    this.outage = true;
    if (this.unjournaled.length > 0) {
      this.unjournaled.push(entry);
      log.log('warn', `${entry.kind} kept in memory behind entries the journal could not take`, {
        fence: entry.fence,
        inMemory: this.unjournaled.length,
      });
      return;
    }
    this.journalAppends += 1;
    try {
      await this.journal.append(entry);
      log.log('info', `journaled ${entry.kind}`, { fence: entry.fence });
    } catch (error) {
      this.unjournaled.push(entry);
      log.log(
        'error',
        `journal append failed: ${entry.kind} kept in memory until AWS answers (lost if this process dies first)`,
        { error },
      );
    } finally {
      this.journalAppends -= 1;
    }
  }

  /** Hands a run back (fenced). False when refused or unavailable. */
  private async handBack(slot: RunSlot, note: string): Promise<boolean> {
    const log = this.log.child(runLogScope(slot.run));
    try {
      await this.deps.execution.handBack(slot.run, note);
      log.log('info', 'run handed back', { note });
      return true;
    } catch (error) {
      if (isRefusal(error) || error instanceof NotFoundError) {
        log.log('warn', 'hand-back refused by the fence: the run belongs to another attempt now', {
          fence: slot.run.fence,
          status: currentOf(error)?.status,
          owner: currentOf(error)?.workerId,
        });
      } else {
        log.log('error', 'hand-back failed', { error });
      }
      return false;
    }
  }

  // ── log, progress and cancel ─────────────────────────────────────────────────────────────────

  /** One tick: write pending log batches, and read back runs that had no answer for cancelPollMs. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const pollMs = this.options.cancelPollMs ?? 3000;
      await Promise.all(
        [...this.running.values()].map(async (slot) => {
          if (slot.aborted) return;
          await this.flush(slot);
          if (this.outage || slot.aborted || this.clock.now() - slot.lastContactAt < pollMs) return;
          try {
            const current = await this.deps.runs.get(slot.run.runId);
            slot.lastContactAt = this.clock.now();
            this.check(slot, current);
          } catch (error) {
            this.log.log('debug', 'cancel poll failed', { runId: slot.run.runId, error });
          }
        }),
      );
    } finally {
      this.ticking = false;
    }
  }

  /** Aborts the handler if the run was cancelled or is no longer this attempt's. */
  private check(slot: RunSlot, current: Run | null | undefined): void {
    if (slot.aborted) return;
    if (!current) {
      slot.abort('superseded', 'the run no longer exists');
    } else if (current.fence !== slot.run.fence || current.status !== 'RUNNING') {
      slot.abort('superseded', `the run is now ${current.status} (fence ${current.fence})`);
    } else if (current.cancelRequested) {
      slot.abort('cancelled', 'cancel requested');
    }
  }

  /** Writes a slot's pending log lines and progress; `final` also notes lines over the cap. */
  private async flush(slot: RunSlot, final = false): Promise<void> {
    const batch = slot.takeBatch(final);
    if (!batch) return;
    const log = this.log.child(runLogScope(slot.run));
    // While AWS does not answer, log lines go to the journal (progress is not worth journaling).
    const journalLines = async () => {
      if (batch.lines.length === 0) return;
      const entry = {
        kind: 'log',
        runId: slot.run.runId,
        fence: slot.run.fence,
        lines: batch.lines,
        at: this.clock.now(),
      } as const;
      await this.appendJournal(entry, log);
    };
    if (this.outage) {
      await journalLines();
      return;
    }
    try {
      const current = await this.deps.runs.patch(slot.run.runId, {
        from: ['RUNNING'],
        fence: slot.run.fence,
        at: this.clock.now(),
        ...(batch.progress ? { progress: batch.progress } : {}),
        ...(batch.lines.length > 0 ? { appendLog: batch.lines } : {}),
      });
      slot.lastContactAt = this.clock.now();
      this.failures.succeeded('log lines');
      this.check(slot, current);
    } catch (error) {
      if (isRefusal(error) || error instanceof NotFoundError) {
        this.check(slot, currentOf(error) ?? null);
      } else if (isUnavailable(error)) {
        this.failures.failed('log lines', 'control plane unavailable: log lines journaled', {
          runId: slot.run.runId,
          error,
        });
        await journalLines();
      } else {
        this.failures.failed('log lines', 'log lines could not be written; retrying at the next flush', {
          runId: slot.run.runId,
          error,
        });
        slot.restore(batch);
      }
    }
  }

  // ── the journal ──────────────────────────────────────────────────────────────────────────────

  /** Replays the journal if it may hold anything; one replay at a time. */
  private replayJournal(): Promise<void> {
    if (!this.outage) return Promise.resolve();
    this.replaying ??= (async () => {
      try {
        // A journal that cannot even be read (a failing disk) must not hold back what memory has.
        const fromDisk = await this.journal
          .replay((entry) => this.apply(entry))
          .catch((error: unknown) => ({ applied: 0, pending: 1, error, unreadable: true }));
        const fromMemory =
          fromDisk.error === undefined || 'unreadable' in fromDisk
            ? await this.replayUnjournaled()
            : { applied: 0, error: undefined };
        const result = {
          applied: fromDisk.applied + fromMemory.applied,
          pending: fromDisk.pending + this.unjournaled.length,
          error: fromDisk.error ?? fromMemory.error,
        };
        if (result.applied > 0 || result.error === undefined) {
          this.log.log('info', 'journal replayed', { applied: result.applied, pending: result.pending });
        }
        if (result.pending === 0 && this.journalAppends === 0) this.outage = false;
        if (result.error === undefined) this.failures.succeeded('journal replay');
        else
          this.failures.failed(
            'journal replay',
            'journal replay stopped; the rest is kept for the next replay',
            {
              pending: result.pending,
              error: result.error,
            },
          );
      } catch (error) {
        this.failures.failed('journal replay', 'journal replay failed; retrying later', { error });
      } finally {
        this.replaying = undefined;
      }
    })();
    return this.replaying;
  }

  /** Applies the entries held in memory, in order, until one fails (it stays, with those behind it). */
  private async replayUnjournaled(): Promise<{ applied: number; error: unknown }> {
    let applied = 0;
    for (let entry = this.unjournaled[0]; entry !== undefined; entry = this.unjournaled[0]) {
      try {
        await this.apply(entry);
      } catch (error) {
        return { applied, error };
      }
      this.unjournaled.shift();
      applied += 1;
    }
    return { applied, error: undefined };
  }

  /** Applies one journaled entry; a write the fence refuses counts as applied. Throws only when AWS does not answer. */
  private async apply(entry: JournalEntry): Promise<void> {
    const log = this.log.child({ runId: entry.runId });
    try {
      if (entry.kind === 'log') {
        await this.deps.runs.patch(entry.runId, {
          from: RunStatuses,
          fence: entry.fence,
          at: this.clock.now(),
          appendLog: [...entry.lines],
        });
        return;
      }
      const current = await this.deps.runs.get(entry.runId);
      if (!current) {
        log.log('warn', 'journaled outcome dropped: the run no longer exists');
        return;
      }
      if (current.fence !== entry.fence || current.status !== 'RUNNING') {
        if (current.fence === entry.fence && isFinal(current)) {
          // Written before (a crash or an outage between the transition and the lock release): settle again.
          await this.deps.settle(current);
          log.log('info', 'journaled outcome was already written', { status: current.status });
        } else {
          log.log('warn', 'journaled outcome refused by the fence: the run belongs to another attempt now', {
            fence: entry.fence,
            status: current.status,
            currentFence: current.fence,
          });
        }
        return;
      }
      const written = await this.deps.execution.complete(
        { ...current, attempt: entry.attempt },
        entry.outcome,
      );
      log.log('info', 'journaled outcome written', { status: written.status });
    } catch (error) {
      if (isRefusal(error) || error instanceof NotFoundError) {
        log.log('warn', `journaled ${entry.kind} refused by the fence; dropped`, {
          fence: entry.fence,
          status: currentOf(error)?.status,
        });
        return;
      }
      throw error;
    }
  }

  // ── stopping ─────────────────────────────────────────────────────────────────────────────────

  /**
   * An operator drained this worker (the API's `POST /api/workers/:id/drain` sets the lease DRAINING):
   * the renewal reads that back, and the agent drains exactly as on SIGTERM — it takes nothing new,
   * lets running runs finish, releases the lease and exits 0, which a supervisor's
   * `Restart=on-failure` leaves stopped.
   */
  private onRenewed(worker: Worker): void {
    if (worker.status !== 'DRAINING' || this.state !== 'RUNNING') return;
    this.log.log('info', 'drain requested through the API: finishing running runs, taking nothing new', {
      running: this.running.size,
    });
    void this.close();
  }

  private onLeaseLost(reason: LeaseLostReason): void {
    if (this.state !== 'RUNNING' && this.state !== 'DRAINING') return;
    const wasDraining = this.state === 'DRAINING';
    this.state = 'LOST';
    this.log.log('error', 'lease lost: stop taking work, abort runs', { reason: reason.kind });
    this.receiveStop.abort();
    this.wakeSlotWaiters();
    for (const slot of this.running.values()) slot.abort('lease_lost', 'the worker lost its lease');
    if (!wasDraining) this.closing ??= this.shutdown('lease_lost', { drain: false, removeQueue: false });
    this.forceDrain?.();
  }

  /** Every cleanup step, each one even if an earlier one failed. */
  private async shutdown(
    reason: AgentStopped['reason'],
    options: { drain: boolean; removeQueue: boolean },
  ): Promise<void> {
    const errors: unknown[] = [];
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
        this.log.log('error', `shutdown step failed: ${name}`, { error });
      }
    };
    const leaseHeld = () => this.worker !== undefined && this.keeper !== undefined && !this.keeper.lost;
    if (this.state === 'RUNNING') this.state = 'DRAINING';
    const deadline = this.clock.now() + (options.drain && !this.forced ? this.config.drainGraceMs : 0);
    this.log.log('info', reason === 'closed' ? 'draining' : 'stopping after lease loss', {
      running: this.running.size,
      graceMs: Math.max(0, deadline - this.clock.now()),
    });

    await step('stop LOCAL fires', () => this.localFires?.stop());
    if (options.drain && leaseHeld()) {
      await step('lease DRAINING', () =>
        this.deps.workers.setStatus(this.workerId, this.worker!.leaseFence, 'DRAINING', this.clock.now()),
      );
    }
    await step('stop receiving', async () => {
      await this.zmqIntake?.close();
      this.receiveStop.abort();
      this.wakeSlotWaiters();
      await Promise.all(this.loops);
    });
    await step('let runs finish', () => this.waitForRuns(deadline));
    await step('hand back unfinished runs', async () => {
      const left = [...this.running.values()].filter((slot) => !slot.aborted);
      await Promise.all(
        left.map(async (slot) => {
          slot.handedBack = await this.handBack(slot, 'worker draining: grace period over');
          slot.abort('drain', 'the worker is stopping');
        }),
      );
      await this.waitForRuns(this.clock.now() + (this.options.abortWaitMs ?? 10_000));
      if (this.running.size > 0) {
        this.log.log('warn', 'handlers still running after abort; leaving them', {
          runIds: [...this.running.keys()],
        });
      }
    });
    if (options.drain && this.ownQueue) {
      const queue = this.ownQueue;
      await step('hand back undelivered envelopes', () => this.handBackQueued(queue));
    }
    await step('stop timers', () => {
      clearInterval(this.ticker);
      clearInterval(this.replayer);
      this.keeper?.stop();
    });
    await step('final journal replay', () => this.replayJournal());
    if (this.unjournaled.length > 0) {
      this.log.log('error', 'entries the journal could not take are lost at exit', {
        lost: this.unjournaled.map((entry) => `${entry.kind} ${entry.runId}`),
      });
    }
    if (this.outage) {
      this.log.log('warn', 'journal not empty at exit; the next start replays it', {
        dir: this.config.journalDir,
      });
    }
    if (this.worker) {
      const fence = this.worker.leaseFence;
      await step('lease GONE', () =>
        this.deps.workers.setStatus(this.workerId, fence, 'GONE', this.clock.now()),
      );
    }
    if (options.removeQueue && this.ownQueue) {
      const queue = this.ownQueue;
      await step('remove own queue', () => this.deps.queues.remove(queue));
    }
    await step('close journal', async () => {
      await this.journal.close();
      await this.releaseJournal?.();
    });
    this.state = 'STOPPED';
    this.log.log('info', 'agent stopped', { reason, failedSteps: errors.length });
    this.resolveStopped({ reason, errors });
  }

  private async waitForRuns(deadline: number): Promise<void> {
    while (this.running.size > 0 && !this.forced) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(remaining, MAX_TIMER_MS));
        const pending = [...this.running.values()].map((slot) => slot.done);
        void Promise.race(pending).then(done);
        this.forceDrain = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.forceDrain = undefined;
    }
  }

  /** Envelopes that reached the own queue after receiving stopped: hand each back so it is dispatched elsewhere. */
  private async handBackQueued(queue: AgentQueue): Promise<void> {
    for (let round = 0; round < 5; round += 1) {
      const messages = await queue.receive({ maxMessages: 10, waitSeconds: 0 });
      if (messages.length === 0) return;
      await this.deadLetter(
        queue,
        messages.filter((message) => !message.ok),
      );
      for (const message of messages) {
        if (!message.ok) continue;
        const { envelope } = message;
        const run = await this.deps.runs.get(envelope.runId);
        // Only a run the record says is this worker's and that the envelope describes truly: a forged
        // envelope must not make a draining worker hand back another worker's run.
        const ours =
          run?.status === 'DISPATCHED' &&
          run.workerId === this.workerId &&
          claimDifferences(run, claimFromEnvelope(envelope, this.workerId, this.clock.now())).length === 0;
        if (run && ours) {
          await this.deps.execution
            .handBack(run, 'worker draining: not started')
            .then(() =>
              this.log.log('info', 'undelivered run handed back', { runId: run.runId, jobId: run.jobId }),
            )
            .catch((error: unknown) =>
              this.log.log('warn', 'hand-back refused', { runId: run.runId, error }),
            );
        }
        await queue.ack(message.receipt);
      }
    }
  }
}

function isUnavailable(error: unknown): boolean {
  return error instanceof CloverError && error.retryable;
}

/** A handler's failure as the run records it: a stable code, the message and the stack. */
export function runError(error: unknown): RunError {
  if (error instanceof UnknownHandlerError) return { code: error.code, message: error.message };
  const code =
    typeof (error as { code?: unknown } | null)?.code === 'string'
      ? String((error as { code: string }).code)
      : 'handler_error';
  const message = error instanceof Error ? error.message : `handler threw ${safeString(error)}`;
  return { code, message: message.slice(0, 4096), ...stackOf(error) };
}

function stackOf(error: unknown): { stack?: string } {
  return error instanceof Error && error.stack ? { stack: error.stack.slice(0, 8192) } : {};
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * How late a scheduled run's handler started after the fire's nominal instant (ms, by this host's
 * clock); undefined for manual and dependent runs, which have no instant to keep.
 */
function lateness(run: Run, startedAt: number): number | undefined {
  if (run.trigger !== 'SCHEDULE' && run.trigger !== 'LOCAL') return undefined;
  return Math.round(startedAt - Date.parse(run.scheduledTime));
}
