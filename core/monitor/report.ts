/** What one sweep did: the monitor Lambda turns it into metrics (functions/monitor/handler.ts). */
export interface SweepReport {
  readonly at: number;
  workersExpired: number;
  runsRecovered: number;
  runsLost: number;
  runsTimedOut: number;
  /** DISPATCHED runs left unclaimed past `unclaimedResendMs` whose envelope this sweep sent again. */
  runsResent: number;
  retriesDispatched: number;
  /** DISPATCHED and RUNNING runs this sweep read: while any, the monitor watches (watch.ts). */
  inFlight: number;
  /** When the earliest waiting retry is due, if any. */
  nextRetryAt?: number;
  /**
   * When the earliest lease of a live worker holding a run in flight runs out, if any: a watching
   * monitor sweeps then rather than up to a loop later, should that worker have died.
   */
  nextLeaseExpiryAt?: number;
  catchUpFires: number;
  misfiresSkipped: number;
  deadLettersDrained: number;
  /** Jobs newly flagged unavailable in this sweep (each raised one alert). */
  jobsUnavailable: number;
  /** Every job (not paused) no live worker could run at this sweep, flagged before or now: a gauge. */
  jobsWithoutLiveWorker: number;
  schedulesRepaired: number;
  locksReleased: number;
  alertsRequeued: number;
  /** Final runs whose dependents were left unfired (their writer died) and were fired by this sweep. */
  dependentsRecovered: number;
  /** `downstream` links repaired to match the jobs' `after` lists. */
  dependencyLinksRepaired: number;
  readonly errors: { step: string; message: string }[];
}

export function newSweepReport(at: number): SweepReport {
  return {
    at,
    workersExpired: 0,
    runsRecovered: 0,
    runsLost: 0,
    runsTimedOut: 0,
    runsResent: 0,
    retriesDispatched: 0,
    inFlight: 0,
    catchUpFires: 0,
    misfiresSkipped: 0,
    deadLettersDrained: 0,
    jobsUnavailable: 0,
    jobsWithoutLiveWorker: 0,
    schedulesRepaired: 0,
    locksReleased: 0,
    alertsRequeued: 0,
    dependentsRecovered: 0,
    dependencyLinksRepaired: 0,
    errors: [],
  };
}

/** True when the sweep changed something or failed a step: only then is it logged. */
export function sweepChangedAnything(report: SweepReport): boolean {
  const changed = Object.entries(report).some(
    ([k, v]) =>
      typeof v === 'number' && !['at', 'inFlight', 'nextRetryAt', 'nextLeaseExpiryAt'].includes(k) && v > 0,
  );
  return changed || report.errors.length > 0;
}
