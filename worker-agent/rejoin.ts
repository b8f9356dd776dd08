/**
 * Keeps an agent process serving across lease losses. An Agent (agent.ts) that loses its lease stops
 * for good — it aborts its runs and hands them back, fenced — and an Agent object is not restarted.
 * This wraps one: after a loss it builds a new Agent from the same factory, which registers a new
 * lease (a higher lease fence: anything the old one still writes is refused), replays the journal
 * and carries on.
 *
 *   STARTING ─first start ok─► SERVING ─lease lost─► REJOINING ─registered─► SERVING
 *   STARTING ─first start failed─► (start() rejects; the caller exits)
 *   SERVING ─lease lost, exitOnLeaseLoss─► STOPPED (lease_lost)
 *   REJOINING ─no registration within rejoinTimeoutMs, or a config/journal error─► STOPPED (lease_lost)
 *   SERVING | REJOINING ─close()─► STOPPED (closed)
 *
 * Rejoin attempts back off (1 s doubling to 30 s by default). One line per change of state: the loss,
 * the first failed attempt (with its error; later failures of a stalled control plane are quiet), the
 * rejoin and the giving up. A failed attempt's own lines (the Agent logs its start-up and undoing)
 * are dropped; a successful attempt's are kept.
 *
 * @example
 * const life = new RejoiningAgent({
 *   create: (logger) => new Agent({ config, deps, logger }),
 *   exitOnLeaseLoss: config.exitOnLeaseLoss,
 *   rejoinTimeoutMs: config.rejoinTimeoutMs,
 *   logger,
 * });
 * await life.start();
 * process.once('SIGTERM', () => void life.close());
 * const { reason } = await life.stopped; // 'closed' | 'lease_lost'
 */
import { setTimeout as wait } from 'node:timers/promises';
import { type Logger, silentLogger } from '../core/log';
import { type Clock, systemClock } from '../core/ports';
import type { Agent } from './agent';
import { ConfigError } from './config';
import { JournalInUseError } from './journal';

export interface RejoiningAgentOptions {
  /** Builds a fresh Agent (each one registers its own lease); called once per (re)start. */
  readonly create: (logger: Logger) => Agent;
  /** Stop on the first lease loss instead of rejoining. */
  readonly exitOnLeaseLoss: boolean;
  /** How long rejoin attempts may fail before the process gives up. */
  readonly rejoinTimeoutMs: number;
  readonly logger?: Logger;
  /** @default { initialMs: 1000, maxMs: 30000 } */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** @default systemClock */
  readonly clock?: Clock;
}

export interface RejoiningAgentStopped {
  readonly reason: 'closed' | 'lease_lost';
  /** How many times a new lease was registered after a loss. */
  readonly rejoins: number;
}

export class RejoiningAgent {
  private readonly options: RejoiningAgentOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private agent: Agent | undefined;
  private closing = false;
  private readonly closed = new AbortController();
  private rejoins = 0;
  private resolveStopped!: (stopped: RejoiningAgentStopped) => void;
  /** Settles once the process should exit: after close(), or a loss it does not rejoin from. */
  readonly stopped: Promise<RejoiningAgentStopped>;

  constructor(options: RejoiningAgentOptions) {
    this.options = options;
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  /** The agent serving now (or being started). */
  get current(): Agent | undefined {
    return this.agent;
  }

  /** Starts the first agent; rejects as Agent.start() does (nothing is retried on a first start). */
  async start(): Promise<void> {
    const agent = this.options.create(this.log);
    this.agent = agent;
    await agent.start();
    void this.serve(agent);
  }

  /** Drains the current agent (as Agent.close) or ends a rejoin in progress. */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.closing = true;
    this.closed.abort();
    await this.agent?.close(options);
  }

  private async serve(first: Agent): Promise<void> {
    let agent: Agent | undefined = first;
    while (agent) {
      const { reason } = await agent.stopped;
      if (reason === 'closed' || this.closing) break;
      if (this.options.exitOnLeaseLoss) {
        this.log.log('error', 'lease lost; exiting (exitOnLeaseLoss)');
        this.resolveStopped({ reason: 'lease_lost', rejoins: this.rejoins });
        return;
      }
      agent = await this.rejoin();
      if (!agent && !this.closing) {
        this.resolveStopped({ reason: 'lease_lost', rejoins: this.rejoins });
        return;
      }
    }
    this.resolveStopped({ reason: 'closed', rejoins: this.rejoins });
  }

  /** Registers a new lease with backoff; undefined when closed, out of time or facing a fatal error. */
  private async rejoin(): Promise<Agent | undefined> {
    const { rejoinTimeoutMs } = this.options;
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    const lostAt = this.clock.now();
    this.log.log('warn', 'lease lost; registering a new lease', { rejoinTimeoutMs });
    let delay = initialMs;
    let failing = false;
    for (let attempt = 1; !this.closing; attempt += 1) {
      const held = heldLogger(this.log);
      const agent = this.options.create(held.logger);
      this.agent = agent;
      try {
        await agent.start();
        held.pass();
        this.rejoins += 1;
        this.log.log('info', 'rejoined with a new lease', {
          attempts: attempt,
          afterMs: this.clock.now() - lostAt,
          leaseFence: agent.lease?.leaseFence,
        });
        return agent;
      } catch (error) {
        if (error instanceof ConfigError || error instanceof JournalInUseError) {
          this.log.log('error', 'cannot rejoin; exiting', { error });
          return undefined;
        }
        if (!failing) {
          this.log.log('warn', 'cannot register a new lease yet; retrying with backoff', { error });
          failing = true;
        }
        if (this.clock.now() + delay - lostAt > rejoinTimeoutMs) {
          this.log.log('error', 'could not register a new lease in time; exiting', {
            attempts: attempt,
            rejoinTimeoutMs,
            error,
          });
          return undefined;
        }
        await wait(delay, undefined, { signal: this.closed.signal }).catch(() => {});
        delay = Math.min(delay * 2, maxMs);
      }
    }
    return undefined;
  }
}

/**
 * A logger that holds its lines until `pass()` (then writes them and every later one through); lines
 * of an attempt that is dropped are never written.
 */
function heldLogger(target: Logger): { logger: Logger; pass(): void } {
  let held: (() => void)[] | undefined = [];
  const make = (to: Logger): Logger => ({
    log(level, message, fields) {
      if (held) held.push(() => to.log(level, message, fields));
      else to.log(level, message, fields);
    },
    child: (fields) => make(to.child(fields)),
  });
  return {
    logger: make(target),
    pass() {
      const lines = held ?? [];
      held = undefined;
      for (const line of lines) line();
    },
  };
}
