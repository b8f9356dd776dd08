import type { MonitorWatch, WatchStore } from '../ports';

/** The monitor's watch in memory (core/monitor/watch.ts). */
export class MemoryWatchStore implements WatchStore {
  private current: MonitorWatch | null = null;

  async read(): Promise<MonitorWatch | null> {
    return this.current && { ...this.current };
  }

  async take(watch: MonitorWatch, options: { readonly ifEndsBy?: number } = {}): Promise<boolean> {
    const { ifEndsBy } = options;
    if (ifEndsBy !== undefined && this.current && this.current.until > ifEndsBy) return false;
    this.current = { ...watch };
    return true;
  }
}
