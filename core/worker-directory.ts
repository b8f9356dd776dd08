import { isLive, type Worker } from './model';
import type { WorkerRegistry } from './ports';

/**
 * The dispatcher's view of live workers. A warm Lambda keeps the list for `ttlMs` (default 1 s) so
 * a burst of fires costs one Query, not one each; it never caches a decision that a conditional
 * write makes (the claim's fence decides who runs a run). Loads it dispatched to are counted
 * locally until the next refresh, so least-loaded routing does not pile onto one worker.
 */
export class WorkerDirectory {
  private readonly cache = new Map<string, { at: number; workers: Worker[] }>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly ttlMs = 1000,
  ) {}

  async live(pool: string, now: number): Promise<Worker[]> {
    const cached = this.cache.get(pool);
    if (cached && now - cached.at < this.ttlMs) return cached.workers.filter((w) => isLive(w, now));
    const workers = (await this.registry.list(pool)).map((w) => ({ ...w }));
    this.cache.set(pool, { at: now, workers });
    return workers.filter((w) => isLive(w, now));
  }

  /** Counts a dispatch against the cached load of the worker that got it. */
  noteDispatched(pool: string, workerId: string): void {
    const worker = this.cache.get(pool)?.workers.find((w) => w.workerId === workerId);
    if (worker) worker.load += 1;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
