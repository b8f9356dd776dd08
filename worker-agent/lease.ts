/**
 * Keeps the worker's lease alive by renewing it on a fixed interval, and says when it is lost.
 *
 *   RUNNING ─► LOST     a renewal was refused (LeaseLostError: expired or taken over), or the lease's
 *                       expiry passed with no successful renewal (control plane unreachable)
 *   RUNNING ─► STOPPED  stop() (clean shutdown; the caller releases the lease itself)
 *   LOST and STOPPED are final; `lost` is emitted once, and `signal` aborts with it.
 *
 * Any other renewal failure (UnavailableError, throttling, a network error) is transient: it is
 * reported as `renewFailed` and retried at the next interval. A renewal still in flight when the next
 * interval comes is not doubled. Callers stop taking work and abort their runs on `lost`; the fence
 * rejects anything a lost worker still writes.
 *
 * @example
 * const keeper = new LeaseKeeper({ registry, worker, intervalMs: 2000, ttlMs: 6000, load: () => running.size });
 * keeper.on('lost', (reason) => agent.abortAll(reason));
 * keeper.start();
 */
import { EventEmitter } from 'node:events';
import { LeaseLostError } from '../core/errors';
import { FailureLog, type Logger, silentLogger } from '../core/log';
import type { Worker } from '../core/model';
import { type Clock, systemClock } from '../core/ports';

/** The part of WorkerRegistry the keeper needs. */
export interface LeaseRenewer {
  renew(workerId: string, leaseFence: number, now: number, ttlMs: number, load: number): Promise<Worker>;
}

/** Timer functions, injectable for tests; the global ones by default. */
export interface LeaseTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const globalTimers: LeaseTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LeaseKeeperOptions {
  readonly registry: LeaseRenewer;
  /** The lease as registered: its worker id, fence and expiry. */
  readonly worker: Pick<Worker, 'workerId' | 'leaseFence' | 'leaseExpiresAt'>;
  /** Time between renewals. */
  readonly intervalMs: number;
  /** Lease length each renewal asks for. */
  readonly ttlMs: number;
  /** Runs in progress, reported with each renewal. @default () => 0 */
  readonly load?: () => number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default the global timers */
  readonly timers?: LeaseTimers;
  readonly logger?: Logger;
}

export type LeaseLostReason =
  | { readonly kind: 'refused'; readonly error: LeaseLostError }
  | { readonly kind: 'expired'; readonly expiredAt: number };

export interface LeaseKeeperEvents {
  renewed: [worker: Worker];
  renewFailed: [error: unknown];
  lost: [reason: LeaseLostReason];
}

export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  private readonly registry: LeaseRenewer;
  private readonly workerId: string;
  private readonly fence: number;
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly load: () => number;
  private readonly clock: Clock;
  private readonly timers: LeaseTimers;
  private readonly log: Logger;
  private readonly failures: FailureLog;
  private readonly controller = new AbortController();
  private expiresAt: number;
  private state: 'IDLE' | 'RUNNING' | 'LOST' | 'STOPPED' = 'IDLE';
  private inFlight = false;
  private interval: unknown;
  private watchdog: unknown;

  constructor(options: LeaseKeeperOptions) {
    super();
    if (!(options.intervalMs > 0) || !(options.ttlMs > options.intervalMs)) {
      throw new RangeError(
        `LeaseKeeper: need 0 < intervalMs (${options.intervalMs}) < ttlMs (${options.ttlMs})`,
      );
    }
    this.registry = options.registry;
    this.workerId = options.worker.workerId;
    this.fence = options.worker.leaseFence;
    this.expiresAt = options.worker.leaseExpiresAt;
    this.intervalMs = options.intervalMs;
    this.ttlMs = options.ttlMs;
    this.load = options.load ?? (() => 0);
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? globalTimers;
    this.log = (options.logger ?? silentLogger).child({ workerId: this.workerId, component: 'lease' });
    this.failures = new FailureLog(this.log, () => this.clock.now());
  }

  /** Aborted (with the LeaseLostReason) when the lease is lost. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.state === 'LOST';
  }

  /** Epoch ms at which the lease expires unless renewed, as of the last successful renewal. */
  get leaseExpiresAt(): number {
    return this.expiresAt;
  }

  /** Starts renewing. If the lease has already expired, it is lost at once. */
  start(): void {
    if (this.state !== 'IDLE') return;
    this.state = 'RUNNING';
    this.interval = this.timers.setInterval(() => {
      void this.renewOnce();
    }, this.intervalMs);
    this.armWatchdog();
  }

  /** Stops renewing without emitting anything. Idempotent. */
  stop(): void {
    if (this.state === 'RUNNING' || this.state === 'IDLE') this.state = 'STOPPED';
    this.clearTimers();
  }

  /** One renewal now (also what each interval does). Resolves when it has been handled; never rejects. */
  async renewOnce(): Promise<void> {
    if (this.state !== 'RUNNING' || this.inFlight) return;
    this.inFlight = true;
    try {
      const now = this.clock.now();
      const worker = await this.registry.renew(this.workerId, this.fence, now, this.ttlMs, this.load());
      if (this.state !== 'RUNNING') return;
      this.expiresAt = worker.leaseExpiresAt;
      this.failures.succeeded('lease renewal');
      this.armWatchdog();
      this.emit('renewed', worker);
    } catch (error) {
      if (this.state !== 'RUNNING') return;
      if (error instanceof LeaseLostError) {
        this.lose({ kind: 'refused', error });
      } else {
        this.failures.failed('lease renewal', 'lease renewal failed; retrying at the next interval', {
          error,
          leaseExpiresAt: this.expiresAt,
        });
        this.emit('renewFailed', error);
      }
    } finally {
      this.inFlight = false;
    }
  }

  private armWatchdog(): void {
    if (this.watchdog !== undefined) this.timers.clearTimeout(this.watchdog);
    const delay = Math.max(0, this.expiresAt - this.clock.now());
    this.watchdog = this.timers.setTimeout(() => {
      this.watchdog = undefined;
      if (this.state !== 'RUNNING') return;
      if (this.clock.now() >= this.expiresAt) this.lose({ kind: 'expired', expiredAt: this.expiresAt });
      else this.armWatchdog();
    }, delay);
  }

  private lose(reason: LeaseLostReason): void {
    if (this.state !== 'RUNNING') return;
    this.state = 'LOST';
    this.clearTimers();
    this.log.log('error', 'lease lost: stop taking work and abort runs', {
      reason: reason.kind,
      leaseFence: this.fence,
    });
    this.controller.abort(reason);
    this.emit('lost', reason);
  }

  private clearTimers(): void {
    if (this.interval !== undefined) this.timers.clearInterval(this.interval);
    if (this.watchdog !== undefined) this.timers.clearTimeout(this.watchdog);
    this.interval = undefined;
    this.watchdog = undefined;
  }
}
