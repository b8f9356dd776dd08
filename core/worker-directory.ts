import { isLive, type Worker } from './model';
import type { WorkerRegistry } from './ports';

/** A fire that finds the list this far into its time to live has it refreshed once it is delivered. */
const REFRESH_AHEAD = 0.5;

/**
 * The dispatcher's view of live workers. A warm Lambda keeps the list for `ttlMs` (default 1 s) so
 * a burst of fires costs one Query, not one each; it never caches a decision that a conditional
 * write makes (the claim's fence decides who runs a run). Loads it dispatched to are counted
 * locally until the next refresh, so least-loaded routing does not pile onto one worker.
 *
 * The Query is kept off the fire path while fires keep coming: a fire that finds the list in the
 * second half of its life uses it as it is, and the dispatcher refreshes it (`refreshAhead`) once
 * that fire has been delivered, so the next fire finds a fresh list. Only a fire after a quiet spell
 * (the list expired) waits for the Query. Concurrent reads of one pool are one Query.
 */
export class WorkerDirectory {
  private readonly cache = new Map<string, { at: number; workers: Worker[] }>();
  private readonly reading = new Map<string, Promise<void>>();
  private readonly due = new Set<string>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly ttlMs = 1000,
  ) {}

  async live(pool: string, now: number): Promise<Worker[]> {
    let cached = this.cache.get(pool);
    if (cached && now - cached.at < this.ttlMs) {
      if (now - cached.at >= this.ttlMs * REFRESH_AHEAD) this.due.add(pool);
    } else {
      await this.read(pool, now);
      cached = this.cache.get(pool);
    }
    return (cached?.workers ?? []).filter((w) => isLive(w, now));
  }

  /** Reads again the lists that fires found close to expiry (see the class comment); call it off the fire path. */
  async refreshAhead(now: number): Promise<void> {
    const pools = [...this.due];
    this.due.clear();
    await Promise.all(pools.map((pool) => this.read(pool, now)));
  }

  /** Counts a dispatch against the cached load of the worker that got it. */
  noteDispatched(pool: string, workerId: string): void {
    const worker = this.cache.get(pool)?.workers.find((w) => w.workerId === workerId);
    if (worker) worker.load += 1;
  }

  invalidate(): void {
    this.cache.clear();
  }

  /** Reads the pool's workers into the cache, stamped `now`; joins a read of the pool already under way. */
  private read(pool: string, now: number): Promise<void> {
    const running = this.reading.get(pool);
    if (running) return running;
    const read = this.registry
      .list(pool)
      .then((workers) => {
        this.cache.set(pool, { at: now, workers: workers.map((w) => ({ ...w })) });
      })
      .finally(() => this.reading.delete(pool));
    this.reading.set(pool, read);
    return read;
  }
}
