/**
 * Worker eligibility and choice: which live workers may take a fire, why the others may not, and in
 * what order delivery should try the eligible ones under the job's routing strategy
 * (see RoutingStrategies in model/job.ts). Pure domain code: no I/O, no clock, no global state —
 * the caller passes `now`, the round-robin cursor and, if it wants determinism, the random source.
 */
import type { JobMode, Precision, RoutingStrategy, Worker } from './model';
import { isLive } from './model';

/** What routing needs of a job. A stored job's `spec` satisfies it. */
export interface RoutingJob {
  readonly jobId: string;
  readonly handler: string;
  readonly target: {
    readonly pool: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly workerIds: readonly string[];
  };
  readonly routing: RoutingStrategy;
  /** Precise REMOTE jobs (mode REMOTE, precision SECOND) go only to workers with the `precise` feature. */
  readonly mode?: JobMode;
  readonly precision?: Precision;
}

/** Why a worker cannot take the fire. Stable strings: they end up in NO_WORKER run reasons and the console. */
export const ExclusionReasons = {
  notPinned: 'not pinned',
  /** A pinned worker id that has no lease in the registry (it left, or never registered). */
  notRegistered: 'not registered',
  pool: 'pool',
  gone: 'gone',
  draining: 'draining',
  leaseExpired: 'lease expired',
  missingHandler: 'missing handler',
  /** A precise job's worker must hold planned fires: an agent without the `precise` feature cannot. */
  notPrecise: 'no precise support',
  full: 'full',
} as const;

/** `label key=value`: the worker lacks the label the job targets, or has another value for it. */
export function labelReason(key: string, value: string): string {
  return `label ${key}=${value}`;
}

export interface Exclusion {
  readonly workerId: string;
  /** The first reason, in the order: not pinned, pool, liveness, handler, labels, full. */
  readonly reason: string;
  /** Every reason that applies, in the same order. */
  readonly reasons: readonly string[];
}

export interface EligibilityReport {
  /** Sorted by (priority, workerId). */
  readonly eligible: Worker[];
  /** Workers in input order, then pinned ids that no worker in the input carries (`not registered`). */
  readonly excluded: Exclusion[];
}

/** Code-unit order: the same on every host, unlike localeCompare. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** (priority, workerId) — the order of FIRST, FAILOVER, BROADCAST and of eligibleWorkers. */
export function compareByPriority(a: Worker, b: Worker): number {
  return a.priority - b.priority || compareIds(a.workerId, b.workerId);
}

function compareById(a: Worker, b: Worker): number {
  return compareIds(a.workerId, b.workerId);
}

function exclusionReasons(job: RoutingJob, worker: Worker, now: number): string[] {
  const reasons: string[] = [];
  const pinned = job.target.workerIds;
  if (pinned.length > 0 && !pinned.includes(worker.workerId)) reasons.push(ExclusionReasons.notPinned);
  if (worker.pool !== job.target.pool) reasons.push(ExclusionReasons.pool);
  if (!isLive(worker, now)) {
    if (worker.status === 'GONE') reasons.push(ExclusionReasons.gone);
    else if (worker.status === 'DRAINING') reasons.push(ExclusionReasons.draining);
    else reasons.push(ExclusionReasons.leaseExpired);
  }
  if (!worker.handlers.includes(job.handler)) reasons.push(ExclusionReasons.missingHandler);
  if (job.mode === 'REMOTE' && job.precision === 'SECOND' && !worker.features?.includes('precise')) {
    reasons.push(ExclusionReasons.notPrecise);
  }
  for (const key of Object.keys(job.target.labels).sort(compareIds)) {
    const wanted = job.target.labels[key]!;
    if (!Object.hasOwn(worker.labels, key) || worker.labels[key] !== wanted) {
      reasons.push(labelReason(key, wanted));
    }
  }
  if (worker.load >= worker.capacity) reasons.push(ExclusionReasons.full);
  return reasons;
}

/**
 * Live (isLive), has the handler, same pool, has every target label with equal value, in workerIds
 * when any are pinned, load < capacity. Sorted by (priority, workerId) so order is deterministic.
 */
export function eligibleWorkers(job: RoutingJob, workers: readonly Worker[], now: number): Worker[] {
  return explainEligibility(job, workers, now).eligible;
}

/** eligibleWorkers, plus why each other worker (and each pinned id with no worker) was left out. */
export function explainEligibility(
  job: RoutingJob,
  workers: readonly Worker[],
  now: number,
): EligibilityReport {
  const eligible: Worker[] = [];
  const excluded: Exclusion[] = [];
  for (const worker of workers) {
    const reasons = exclusionReasons(job, worker, now);
    const [reason] = reasons;
    if (reason === undefined) eligible.push(worker);
    else excluded.push({ workerId: worker.workerId, reason, reasons });
  }
  const present = new Set(workers.map((w) => w.workerId));
  for (const workerId of new Set(job.target.workerIds)) {
    if (!present.has(workerId)) {
      excluded.push({
        workerId,
        reason: ExclusionReasons.notRegistered,
        reasons: [ExclusionReasons.notRegistered],
      });
    }
  }
  eligible.sort(compareByPriority);
  return { eligible, excluded };
}

export interface RoutingState {
  /** Last worker id chosen for this job (round-robin cursor); provided by the caller. */
  readonly lastWorkerId?: string | undefined;
  /** Uniform in [0, 1); defaults to Math.random. Inject a seeded one for deterministic choices. */
  readonly random?: (() => number) | undefined;
}

/** `ring` (sorted by id) rotated so that it starts at index `start`. */
function rotate(ring: readonly Worker[], start: number): Worker[] {
  return [...ring.slice(start), ...ring.slice(0, start)];
}

/** The chosen worker first, then the rest of the id ring after it, wrapping. */
function chosenThenRing(ring: readonly Worker[], chosen: Worker): Worker[] {
  return rotate(
    ring,
    ring.findIndex((w) => w.workerId === chosen.workerId),
  );
}

/** Index of the smallest id greater than `after`, wrapping to 0; 0 when there is no cursor. */
function nextInRing(ring: readonly Worker[], after: string | undefined): number {
  if (after === undefined) return 0;
  const index = ring.findIndex((w) => w.workerId > after);
  return index === -1 ? 0 : index;
}

/** Lower load/capacity first (compared exactly, by cross-multiplying), then lower load, then id. */
function compareByLoad(a: Worker, b: Worker): number {
  return a.load * b.capacity - b.load * a.capacity || a.load - b.load || compareById(a, b);
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

function fnv1a64(bytes: Uint8Array, hash: bigint): bigint {
  let h = hash;
  for (const byte of bytes) h = ((h ^ BigInt(byte)) * FNV64_PRIME) & MASK64;
  return h;
}

/** MurmurHash3's 64-bit finalizer: FNV-1a alone mixes its last bytes poorly, and ids often differ only there. */
function fmix64(hash: bigint): bigint {
  let h = hash;
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & MASK64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & MASK64;
  h ^= h >> 33n;
  return h;
}

/**
 * Rendezvous (highest-random-weight) weight of a worker for a job: FNV-1a 64 over the UTF-8 bytes of
 * jobId, a 0xff separator (never a byte of UTF-8, so no two pairs collide by concatenation) and
 * workerId, then fmix64. BigInt arithmetic: a few microseconds per worker, nothing next to a
 * dispatcher's network round trips, and no node:crypto so the module runs anywhere.
 */
export function rendezvousWeight(jobId: string, workerId: string): bigint {
  let h = fnv1a64(utf8.encode(jobId), FNV64_OFFSET);
  h = ((h ^ 0xffn) * FNV64_PRIME) & MASK64;
  return fmix64(fnv1a64(utf8.encode(workerId), h));
}

function highestWeight(jobId: string, ring: readonly Worker[]): Worker {
  let best = ring[0]!;
  let bestWeight = rendezvousWeight(jobId, best.workerId);
  for (const worker of ring.slice(1)) {
    const weight = rendezvousWeight(jobId, worker.workerId);
    // The ring is in id order, so strict > breaks a (astronomically rare) tie by the lower id.
    if (weight > bestWeight) {
      best = worker;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * Candidates in the order delivery should try them: the chosen worker first, then fallbacks (for
 * FAILOVER, and for a transport that did not acknowledge, e.g. ZeroMQ falling back to the next
 * candidate). For every strategy but FAILOVER the fallbacks follow the chosen worker in ring
 * order (ascending workerId, wrapping). BROADCAST returns all eligible in (priority, workerId)
 * order; ANY returns [] meaning "the pool queue". `eligible` need not be sorted, and is not modified.
 */
export function orderCandidates(
  job: RoutingJob,
  eligible: readonly Worker[],
  state: RoutingState = {},
): Worker[] {
  if (eligible.length === 0 || job.routing === 'ANY') return [];
  const ring = [...eligible].sort(compareById);
  switch (job.routing) {
    case 'ROUND_ROBIN':
      return rotate(ring, nextInRing(ring, state.lastWorkerId));
    case 'RANDOM': {
      const r = (state.random ?? Math.random)();
      const index = Math.min(ring.length - 1, Math.max(0, Math.floor(r * ring.length)));
      return rotate(ring, Number.isFinite(index) ? index : 0);
    }
    case 'LEAST_LOADED':
      return chosenThenRing(ring, [...ring].sort(compareByLoad)[0]!);
    case 'CONSISTENT_HASH':
      return chosenThenRing(ring, highestWeight(job.jobId, ring));
    case 'FIRST':
      return chosenThenRing(ring, [...ring].sort(compareByPriority)[0]!);
    case 'FAILOVER':
    case 'BROADCAST':
      return [...eligible].sort(compareByPriority);
    default: {
      const unknown: never = job.routing;
      throw new Error(`unknown routing strategy ${String(unknown)}`);
    }
  }
}
