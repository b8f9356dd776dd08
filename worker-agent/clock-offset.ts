/**
 * The agent's clock against the control plane's (issue 27, docs/precise-jobs.md "Clocks"): a precise
 * job starts at its instant by this host's clock, so the host's offset from true time is added to
 * every start. Every AWS response carries a `Date` header (the server's time when it answered,
 * truncated to the second); a middleware on a client the agent already uses reads it, so measuring
 * costs no request.
 *
 * One response says little: the server's time lay in [Date, Date + 1 s) at some moment between the
 * request's send and its response, so `server − local` lies in [Date − received, Date + 1000 − sent].
 * Responses land at every phase of the server's second, so intersecting the intervals of the recent
 * ones narrows the offset to about one round trip (an NTP-style bound, no averaging). When the
 * intervals stop agreeing (the host's clock was stepped) the window starts again.
 *
 * The offset is known to exceed the threshold only when the whole interval lies beyond it: then the
 * agent warns once (and again only after it came back within the threshold); each estimate known to be
 * past the threshold is handed to `report`, for the metric (agent-metrics.ts: a clock in sync costs no
 * datum).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../core/log';

/** Default threshold: half the precise jobs' 100 ms goal, so a drifting clock is seen before it costs starts. */
export const DEFAULT_CLOCK_OFFSET_THRESHOLD_MS = 50;
/** How long a response's bound is kept: long enough to cover the second's phases, short enough to follow drift. */
const WINDOW_MS = 10 * 60_000;
/** Most bounds kept (the agent answers about one request a second at most). */
const MAX_SAMPLES = 600;

export interface ClockOffsetEstimate {
  /** Best estimate of server − local, ms (the middle of the interval): positive when this clock is behind. */
  readonly offsetMs: number;
  /** Half the interval's width: the true offset is within `offsetMs ± uncertaintyMs`. */
  readonly uncertaintyMs: number;
  /** Responses the estimate rests on. */
  readonly samples: number;
}

export interface ClockOffsetOptions {
  readonly log: Logger;
  /** @default DEFAULT_CLOCK_OFFSET_THRESHOLD_MS */
  readonly thresholdMs?: number;
  /** Each new estimate whose whole interval lies past the threshold, for the metric. @default nothing */
  readonly report?: (estimate: ClockOffsetEstimate) => void;
  /** The local clock. @default Date.now */
  readonly now?: () => number;
}

interface Bound {
  readonly at: number;
  readonly low: number;
  readonly high: number;
}

export class ClockOffset {
  private bounds: Bound[] = [];
  private over = false;
  private readonly thresholdMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ClockOffsetOptions) {
    this.thresholdMs = options.thresholdMs ?? DEFAULT_CLOCK_OFFSET_THRESHOLD_MS;
    this.now = options.now ?? Date.now;
  }

  /** One response: sent and received by the local clock, its `Date` header as given. */
  observe(sentAt: number, receivedAt: number, dateHeader: string | undefined): void {
    const server = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
    if (!Number.isFinite(server) || receivedAt < sentAt) return;
    const bound = { at: receivedAt, low: server - receivedAt, high: server + 1000 - sentAt };
    this.bounds = this.bounds.filter((b) => b.at > receivedAt - WINDOW_MS).slice(-(MAX_SAMPLES - 1));
    this.bounds.push(bound);
    let estimate = this.estimate();
    if (estimate === null) {
      // Disagreeing bounds: the local clock was stepped (or the server's was). Start again from this one.
      this.options.log.log('info', 'clock offset samples disagree (clock stepped?); measuring again');
      this.bounds = [bound];
      estimate = this.estimate();
    }
    if (estimate) this.judge(estimate);
  }

  /** The offset the recent responses agree on, or null when they do not (or there are none). */
  estimate(): ClockOffsetEstimate | null {
    if (this.bounds.length === 0) return null;
    const low = Math.max(...this.bounds.map((b) => b.low));
    const high = Math.min(...this.bounds.map((b) => b.high));
    if (low > high) return null;
    return { offsetMs: (low + high) / 2, uncertaintyMs: (high - low) / 2, samples: this.bounds.length };
  }

  private judge(estimate: ClockOffsetEstimate): void {
    const least = Math.abs(estimate.offsetMs) - estimate.uncertaintyMs; // the offset is at least this
    if (least > this.thresholdMs) this.options.report?.(estimate);
    const most = Math.abs(estimate.offsetMs) + estimate.uncertaintyMs;
    const fields = {
      offsetMs: Math.round(estimate.offsetMs),
      uncertaintyMs: Math.round(estimate.uncertaintyMs),
      thresholdMs: this.thresholdMs,
      samples: estimate.samples,
    };
    if (!this.over && least > this.thresholdMs) {
      this.over = true;
      this.options.log.log(
        'warn',
        "this host's clock is off the control plane's by more than the threshold: precise jobs start that much off their second (run chrony; docs/precise-jobs.md)",
        fields,
      );
    } else if (this.over && most <= this.thresholdMs) {
      this.over = false;
      this.options.log.log('info', "this host's clock is back within the threshold", fields);
    }
  }
}

const measured = new WeakSet<DynamoDBClient>();

/**
 * Feeds every response of `client` (the agent's DynamoDB client: lease renewals answer every few
 * seconds) to `clock`. The middleware sits innermost (the deserialize step,
 * low priority: inside the retries), so each attempt is timed on its own, and errors are timed too.
 */
export function measureClockOffset(client: DynamoDBClient, clock: ClockOffset, now = Date.now): void {
  // Agents sharing one client (several in a process) share its measure: a middleware name is added once.
  if (measured.has(client)) return;
  measured.add(client);
  client.middlewareStack.add(
    (next) => async (args) => {
      const sentAt = now();
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string | undefined> } | undefined)
        ?.headers;
      clock.observe(sentAt, now(), headers?.date ?? headers?.Date);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'cloverClockOffset' },
  );
}
