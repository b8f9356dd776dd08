/**
 * The agent's LOCAL side: fires the LOCAL jobs whose handlers are registered here (LocalFires,
 * local-fires.ts), runs each fire this agent wins through the agent's normal execution (claim with
 * the fence, run, write the outcome) and hands back one it cannot start; and holds precise jobs'
 * planned fires until their instants. Without a job store and the dispatcher's write in the agent's
 * deps, nothing here runs.
 *
 * @example
 * const local = new LocalMode({ workerId, pool, labels, deps, hasHandler, hasCapacity, execute, state, clock, log });
 * await local.start();
 * local.holdPlan(envelope); // a planned fire delivered over SQS or ZeroMQ
 * await local.stop();      // first thing on drain: a fire won meanwhile is handed back
 */
import type { DispatchEnvelope } from '../core/envelope';
import { type Logger, runLogScope } from '../core/log';
import type { Run } from '../core/model';
import type { Clock } from '../core/ports';
import type { AgentDeps } from './agent-deps';
import type { LocalFireEvent } from './local-decisions';
import { LocalFires } from './local-fires';
import { isRefusedOrGone } from './refusals';
import type { ExecuteResult } from './run-executor';

/**
 * How long before its instant the agent decides (writes and claims) a LOCAL or precise fire, so that
 * at the instant only the handler has to start. It has to cover the decision's writes when many fires
 * share one second and the table serves them one after another: measured on moto with ten decisions
 * an even second, a 300 ms lead started p99 640-720 ms late and a 1 s lead 17-33 ms
 * (docs/precise-jobs.md, "Measured"). The price is that a pause or edit in the last second before an
 * instant applies from the next one.
 */
export const DEFAULT_AGENT_LEAD_MS = 1000;

/** LOCAL mode tuning (local-fires.ts): job list refresh, lead, busy delay, and a per-fire callback (jitter). */
export interface LocalTuning {
  readonly refreshIntervalMs?: number;
  /** How long before its instant a LOCAL fire is decided and claimed (local-fires.ts). @default 1000 */
  readonly leadMs?: number;
  readonly busyDelayMs?: number;
  readonly onFire?: (event: LocalFireEvent) => void;
}

export interface LocalModeOptions {
  readonly workerId: string;
  readonly pool: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly deps: Pick<AgentDeps, 'jobs' | 'dispatcher' | 'execution'>;
  readonly tuning?: LocalTuning;
  /** Whether this agent registered the handler (HandlerRegistry.has). */
  readonly hasHandler: (name: string) => boolean;
  readonly hasCapacity: () => boolean;
  /** The agent's execution of an envelope (Agent.execute): claim, run, write the outcome. */
  readonly execute: (envelope: DispatchEnvelope, options: { startAt: number }) => Promise<ExecuteResult>;
  /** The agent's state (agent.ts): a won fire starts only while it is RUNNING. */
  readonly state: () => string;
  readonly clock: Clock;
  readonly log: Logger;
}

export class LocalMode {
  private fires: LocalFires | undefined;
  private readonly log: Logger;

  constructor(private readonly options: LocalModeOptions) {
    this.log = options.log;
  }

  /** Starts firing the LOCAL jobs this agent can run; each won fire goes to `execute`. */
  async start(): Promise<void> {
    const { jobs, dispatcher } = this.options.deps;
    if (!jobs || !dispatcher || this.options.state() !== 'RUNNING') return;
    const tuning = this.options.tuning ?? {};
    this.fires = new LocalFires({
      workerId: this.options.workerId,
      pool: this.options.pool,
      labels: this.options.labels,
      jobs,
      dispatcher,
      hasHandler: this.options.hasHandler,
      hasCapacity: this.options.hasCapacity,
      execute: ({ run, envelope, startAt }) => this.executeLocal(run, envelope, startAt),
      leadMs: tuning.leadMs ?? DEFAULT_AGENT_LEAD_MS,
      clock: this.options.clock,
      log: this.log,
      ...(tuning.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: tuning.refreshIntervalMs }),
      ...(tuning.busyDelayMs === undefined ? {} : { busyDelayMs: tuning.busyDelayMs }),
      ...(tuning.onFire ? { onFire: tuning.onFire } : {}),
    });
    await this.fires.start();
  }

  /** Stops firing (LocalFires.stop): nothing is fired after this resolves. */
  async stop(): Promise<void> {
    await this.fires?.stop();
  }

  /** The LOCAL jobs fired here, each with its next instant (epoch ms; null when none is left). */
  schedule(): ReadonlyMap<string, number | null> {
    return this.fires?.schedule() ?? new Map();
  }

  /**
   * Holds a precise job's planned fire until its instant (LocalFires.hold); the decision there is the
   * ledger's, so a repeated or stale plan costs nothing but a refused write. False while LOCAL fires
   * are not started (or stopped).
   */
  holdPlan(envelope: DispatchEnvelope): boolean {
    if (envelope.startAt === undefined || !this.fires) return false;
    const held = this.fires.hold({
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
    const state = this.options.state();
    if (state !== 'RUNNING') {
      await this.handBackUnstarted(run, `worker ${state}: LOCAL fire not started`);
      return;
    }
    const result = await this.options.execute(envelope, { startAt });
    if (result.kind === 'not_claimed' && !isRefusedOrGone(result.error)) {
      await this.handBackUnstarted(run, 'claim failed: LOCAL fire not started');
    }
  }

  private async handBackUnstarted(run: Run, note: string): Promise<void> {
    const log = this.log.child(runLogScope(run));
    try {
      await this.options.deps.execution.handBack(run, note);
      log.log('info', 'LOCAL fire handed back', { note });
    } catch (error) {
      log.log('warn', 'LOCAL fire could not be handed back; the monitor recovers it', { note, error });
    }
  }
}
