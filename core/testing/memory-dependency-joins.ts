/**
 * The DependencyJoins fake: the fan-in joins of dependent jobs.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import type { UpstreamRef } from '../model';
import type { DependencyJoins } from '../ports';
import { clone } from './memory-copies';

export class MemoryDependencyJoins implements DependencyJoins {
  readonly joins = new Map<string, Map<string, UpstreamRef>>();
  readonly fires = new Map<string, Set<string>>();

  async countFire(downstreamJobId: string, chainId: string, minute: number, runId: string): Promise<number> {
    const key = `${downstreamJobId}\n${chainId}\n${minute}`;
    const fired = this.fires.get(key) ?? new Set<string>();
    fired.add(runId);
    this.fires.set(key, fired);
    return fired.size;
  }

  async arrive(
    downstreamJobId: string,
    chainId: string,
    arrival: UpstreamRef,
    _now: number,
  ): Promise<Map<string, UpstreamRef>> {
    const key = `${downstreamJobId}\n${chainId}`;
    const join = this.joins.get(key) ?? new Map<string, UpstreamRef>();
    if (!join.has(arrival.jobId)) join.set(arrival.jobId, clone(arrival));
    this.joins.set(key, join);
    return clone(join);
  }
}
