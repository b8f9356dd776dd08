/**
 * The worker agent runtime: a lifecycle over the parts that do the work. It holds a lease, receives
 * envelopes, claims and runs them, writes their outcomes with the fence, journals what AWS does not
 * take, and drains on request.
 *
 *   IDLE ─start()─► STARTING ─► RUNNING ─close()─► DRAINING ─► STOPPED
 *                              RUNNING ─lease lost─► LOST ─► STOPPED
 *   STARTING ─failure─► STOPPED (start() rejects after undoing what it did)
 *
 * The parts, each in its own file:
 * - sqs-intake.ts and zmq-intake.ts: receiving envelopes (long-polls of the own and pool queues;
 *   ZeroMQ when the config has a `zmq:` section), dead-lettering what cannot be read.
 * - run-executor.ts: the capacity slots, the claim with the envelope's fence, the handler's run, its
 *   log lines, progress and cancel read-back, hand-backs.
 * - outcome-writer.ts: outcomes written with the fence, the outage journal and its replay.
 * - declared-jobs.ts: the start-up sync of the config's declared `jobs:`.
 * - local-mode.ts: LOCAL fires (local-fires.ts) and precise jobs' planned fires.
 * - lease.ts: the lease's renewal (LeaseKeeper); this file registers it and acts on its loss.
 *
 * - STARTING: register the config file's handlers; replay what an earlier process journaled; create
 *   the worker's own queue; find the pool's queue; register the lease (handlers, pool, labels,
 *   capacity, priority, endpoints.queueUrl); start the LeaseKeeper and the receive loops; sync the
 *   config's declared `jobs:` (a conflict is logged as an error, never fatal); start LOCAL fires for
 *   the LOCAL jobs whose handlers are registered here (each won fire → execute()).
 * - RUNNING: receive while a capacity slot is free; claim, run, write the outcome (see the parts).
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
import type { DispatchEnvelope } from '../core/envelope';
import { FailureLog, type Logger, silentLogger } from '../core/log';
import { type Worker, WorkerRegistrationSchema } from '../core/model';
import { type Clock, systemClock } from '../core/ports';
import type { AgentDeps } from './agent-deps';
import { startPrecisionOf } from './agent-metrics';
import type { AgentConfig } from './config';
import { syncAgentJobs } from './declared-jobs';
import type { HandlerFunction } from './handler';
import { baseHandlerEnv, type EnvSource } from './handler-env';
import type { SyncResult } from './job-sync';
import { LeaseKeeper, type LeaseLostReason } from './lease';
import { LocalMode, type LocalTuning } from './local-mode';
import { OutcomeWriter } from './outcome-writer';
import { HandlerRegistry } from './registry';
import { type ExecuteResult, RunExecutor } from './run-executor';
import { SqsIntake } from './sqs-intake';
import type { AgentQueue } from './sqs-queues';
import { type AcceptResult, ZmqIntake } from './zmq-intake';

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
  readonly local?: LocalTuning;
}

export type AgentState = 'IDLE' | 'STARTING' | 'RUNNING' | 'DRAINING' | 'LOST' | 'STOPPED';

export interface AgentStopped {
  /** `closed`: close() (drain) finished; `lease_lost`: the lease was lost and the agent stopped. */
  readonly reason: 'closed' | 'lease_lost';
  /** Cleanup steps that failed (each was logged; the others still ran). */
  readonly errors: readonly unknown[];
}

export class Agent {
  readonly config: AgentConfig;
  readonly registry: HandlerRegistry;
  private readonly deps: AgentDeps;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly options: AgentOptions;
  private readonly outcomes: OutcomeWriter;
  private readonly runs: RunExecutor;
  private readonly intake: SqsIntake;
  private readonly local: LocalMode;
  private state: AgentState = 'IDLE';
  private worker: Worker | undefined;
  private keeper: LeaseKeeper | undefined;
  private ownQueue: AgentQueue | undefined;
  private poolQueue: AgentQueue | null = null;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private forced = false;
  private resolveStopped!: (stopped: AgentStopped) => void;
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
    const { config, deps, clock, log } = this;
    // One line per failing call kind while AWS does not answer, not one per retry.
    const failures = new FailureLog(log, () => clock.now());
    const state = () => this.state;
    this.outcomes = new OutcomeWriter({ journalDir: config.journalDir, deps, clock, log, failures });
    this.runs = new RunExecutor({
      workerId: config.workerId,
      capacity: config.capacity,
      deps,
      registry: this.registry,
      // What every handler's environment starts from: the base and pass-through names of the agent's env.
      handlerEnv: baseHandlerEnv(options.env ?? process.env, config.handlerEnv.passThrough),
      outcomes: this.outcomes,
      state,
      cancelPollMs: options.cancelPollMs ?? 3000,
      clock,
      log,
      failures,
      onStarted: (run, startLateMs) => {
        const precision = startPrecisionOf(run);
        if (precision) deps.metrics?.recordStartLateness(config.pool, precision, startLateMs);
      },
    });
    this.local = new LocalMode({
      workerId: config.workerId,
      pool: config.pool,
      labels: config.labels,
      deps,
      ...(options.local ? { tuning: options.local } : {}),
      hasHandler: (name) => this.registry.has(name),
      hasCapacity: () => this.hasCapacity(),
      execute: (envelope, execution) => this.execute(envelope, execution),
      state,
      clock,
      log,
    });
    this.intake = new SqsIntake({
      workerId: config.workerId,
      runs: this.runs,
      holdPlan: (envelope) => this.local.holdPlan(envelope),
      hasCapacity: () => this.hasCapacity(),
      taking: () => this.state === 'RUNNING',
      deps,
      receiveWaitSeconds: options.receiveWaitSeconds ?? 20,
      clock,
      log,
      failures,
    });
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
    return this.runs.load;
  }

  /** True while a capacity slot is free and the agent takes work. */
  hasCapacity(): boolean {
    return this.state === 'RUNNING' && this.runs.hasFreeSlot();
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
    await this.outcomes.open();
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
      load: () => this.runs.load,
      clock: this.clock,
      logger: this.log,
    });
    this.keeper.on('lost', (reason) => this.onLeaseLost(reason));
    this.keeper.on('renewed', (worker) => this.onRenewed(worker));
    this.keeper.start();
    this.state = 'RUNNING';
    this.intake.start(this.poolQueue ? [this.ownQueue, this.poolQueue] : [this.ownQueue], this.ownQueue);
    this.runs.startTicking(this.options.flushIntervalMs ?? 1000);
    this.outcomes.startReplaying(this.options.replayIntervalMs ?? config.heartbeatIntervalMs);
    this.syncResult = await syncAgentJobs({
      config,
      declaredOnHandlers: this.registry.declaredJobs(),
      deps: this.deps,
      log: this.log,
    });
    await this.local.start();
    this.log.log('info', 'agent started', {
      pool: config.pool,
      capacity: config.capacity,
      handlers: registration.handlers,
      leaseFence: this.worker.leaseFence,
      queueUrl: this.ownQueue.queueUrl,
      poolQueueUrl: this.poolQueue?.queueUrl,
      localJobs: [...this.local.schedule().keys()],
    });
  }

  /** The LOCAL jobs this agent fires, each with its next instant (epoch ms; null when none is left). */
  get localJobs(): ReadonlyMap<string, number | null> {
    return this.local.schedule();
  }

  /** What the start-up sync of the config's `jobs:` did (undefined when it did not run or failed). */
  get declaredJobs(): SyncResult | undefined {
    return this.syncResult;
  }

  /**
   * Drains and stops (see the header): DRAINING, stop receiving, let runs finish within
   * `drainGraceMs` (`force`: no grace), hand back the rest, release the lease, delete the own queue.
   * Resolves when every step has run; a second call with `force` cuts a running drain's grace short.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (options.force) {
      this.forced = true;
      this.runs.stopWaiting();
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
    const claimed = await this.runs.claim(envelope, options.startAt);
    return claimed.kind === 'started' ? claimed.result : claimed;
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
      return this.local.holdPlan(envelope)
        ? { kind: 'held' }
        : { kind: 'refused', why: 'planned fires not held here yet' };
    }
    if (!this.hasCapacity()) {
      return { kind: 'refused', why: `full: ${this.runs.load} of ${this.config.capacity} slots busy` };
    }
    const claimed = await this.runs.claim(envelope);
    if (claimed.kind === 'not_claimed') this.runs.wakeSlotWaiters();
    return claimed;
  }

  /**
   * Aborts a run running here as cancelled (a ZeroMQ cancel). Without ZeroMQ the same happens at the
   * next read-back of the run (`cancelPollMs`) when its record has `cancelRequested`. False when the
   * run is not running here.
   */
  cancel(runId: string, reason = 'cancel requested'): boolean {
    return this.runs.abort(runId, 'cancelled', reason);
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
      running: this.runs.load,
    });
    void this.close();
  }

  private onLeaseLost(reason: LeaseLostReason): void {
    if (this.state !== 'RUNNING' && this.state !== 'DRAINING') return;
    const wasDraining = this.state === 'DRAINING';
    this.state = 'LOST';
    this.log.log('error', 'lease lost: stop taking work, abort runs', { reason: reason.kind });
    this.intake.abort();
    this.runs.abortAll('lease_lost', 'the worker lost its lease');
    if (!wasDraining) this.closing ??= this.shutdown('lease_lost', { drain: false, removeQueue: false });
    this.runs.stopWaiting();
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
    const forced = () => this.forced;
    if (this.state === 'RUNNING') this.state = 'DRAINING';
    const deadline = this.clock.now() + (options.drain && !this.forced ? this.config.drainGraceMs : 0);
    this.log.log('info', reason === 'closed' ? 'draining' : 'stopping after lease loss', {
      running: this.runs.load,
      graceMs: Math.max(0, deadline - this.clock.now()),
    });

    await step('stop LOCAL fires', () => this.local.stop());
    if (options.drain && leaseHeld()) {
      await step('lease DRAINING', () =>
        this.deps.workers.setStatus(this.workerId, this.worker!.leaseFence, 'DRAINING', this.clock.now()),
      );
    }
    await step('stop receiving', async () => {
      await this.zmqIntake?.close();
      await this.intake.stop();
    });
    await step('let runs finish', () => this.runs.waitForRuns(deadline, forced));
    await step('hand back unfinished runs', () =>
      this.runs.handBackUnfinished(this.options.abortWaitMs ?? 10_000, forced),
    );
    if (options.drain && this.ownQueue) {
      const queue = this.ownQueue;
      await step('hand back undelivered envelopes', () => this.intake.handBackQueued(queue));
    }
    await step('stop timers', () => {
      this.runs.stopTicking();
      this.outcomes.stopReplaying();
      this.keeper?.stop();
    });
    await step('final journal replay', () => this.outcomes.replay());
    this.outcomes.reportLeftovers();
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
    await step('close journal', () => this.outcomes.close());
    await step('send pending metrics', () => this.deps.metrics?.close());
    this.state = 'STOPPED';
    this.log.log('info', 'agent stopped', { reason, failedSteps: errors.length });
    this.resolveStopped({ reason, errors });
  }
}
