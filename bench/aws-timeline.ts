import type { AwsClients } from '../core/adapters/aws-clients';
import { tables } from '../infra/resources';

/** One AWS call as the SDK made it: `Service.Operation(table or queue)`, with its start and end. */
export interface TimedCall {
  /** e.g. `DynamoDB.UpdateItem(runs)`, `SQS.SendMessage(worker-bench-sqs)`. */
  readonly label: string;
  readonly start: number;
  readonly end: number;
  /** The command's input as the SDK got it (bench/floor.ts replays a path's calls with it). */
  readonly input?: unknown;
}

/** An SDK middleware at the `initialize` step: one logical call, SDK retries inside it. */
export type CallMiddleware = (
  next: (args: { readonly input?: unknown }) => Promise<unknown>,
  context: { readonly commandName?: string },
) => (args: { readonly input?: unknown }) => Promise<unknown>;

/**
 * Adds `middleware(service)` to each client's stack (`DynamoDB`, `SQS`, `Scheduler`, and `SES` and
 * `Lambda` when asked), named `clover-bench-<name>-<service>`. Each client's stack is typed by its own inputs and
 * outputs; the benches' middlewares need none of them.
 */
export function onEveryCall(
  clients: AwsClients,
  name: string,
  middleware: (service: string) => CallMiddleware,
  options: { readonly ses?: boolean; readonly lambda?: boolean } = {},
): void {
  const services: Record<string, unknown> = {
    DynamoDB: clients.dynamodb,
    SQS: clients.sqs,
    Scheduler: clients.scheduler,
    ...(options.ses ? { SES: clients.ses } : {}),
    ...(options.lambda ? { Lambda: clients.lambda } : {}),
  };
  for (const [service, client] of Object.entries(services)) {
    (
      client as {
        middlewareStack: { add(m: CallMiddleware, o: { step: 'initialize'; name: string }): void };
      }
    ).middlewareStack.add(middleware(service), {
      step: 'initialize',
      name: `clover-bench-${name}-${service}`,
    });
  }
}

/**
 * Records every AWS call a set of clients makes, with `performance.now()` start and end, so a
 * bench can say where the time between two instants went (the per-step breakdown of a fire).
 * The timing is of a logical call (the `initialize` step: serialising, signing, the HTTP round
 * trip, parsing), so an SDK retry is inside its call, not a second one.
 */
export class CallTimeline {
  private calls: TimedCall[] = [];
  /** Calls started and not yet ended, by service. */
  private readonly inFlight = new Map<string, number>();
  /** Keeps memory bounded on long benches: calls older than this many are dropped. */
  private readonly limit: number;
  /**
   * Whether calls keep their `input` (FireBreakdown turns it on to replay a fire's path); off by
   * default, so a long bench does not hold every request it made.
   */
  keepInputs = false;

  constructor(clients: AwsClients, prefix: string, options: { readonly limit?: number } = {}) {
    this.limit = options.limit ?? 200_000;
    onEveryCall(clients, 'timeline', (service) => (next, context) => async (args) => {
      const start = performance.now();
      this.inFlight.set(service, (this.inFlight.get(service) ?? 0) + 1);
      let label = callLabel(service, context.commandName, args.input, prefix);
      try {
        const result = await next(args);
        // An idle long poll is not a step of any fire: mark receives that returned nothing.
        if (context.commandName === 'ReceiveMessageCommand' && !hasMessages(result)) label += ' empty';
        return result;
      } finally {
        this.inFlight.set(service, (this.inFlight.get(service) ?? 1) - 1);
        const end = performance.now();
        this.push(this.keepInputs ? { label, start, end, input: args.input } : { label, start, end });
      }
    });
  }

  private push(call: TimedCall): void {
    this.calls.push(call);
    if (this.calls.length > this.limit) this.calls = this.calls.slice(-this.limit / 2);
  }

  /** The calls that overlap [from, to], oldest first. */
  between(from: number, to: number): TimedCall[] {
    return this.calls.filter((c) => c.end >= from && c.start <= to);
  }

  /**
   * Resolves once no call of `service` (`DynamoDB`, `SQS`) has been in flight for `ms`: the end of
   * whatever work the last fire left behind it.
   */
  async quiet(service: string, ms: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      const lastEnd = this.calls.findLast((c) => c.label.startsWith(`${service}.`))?.end ?? 0;
      if ((this.inFlight.get(service) ?? 0) === 0 && now - lastEnd >= ms) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  clear(): void {
    this.calls = [];
  }
}

function hasMessages(result: unknown): boolean {
  const output = (result as { output?: { Messages?: unknown[] } } | undefined)?.output;
  return (output?.Messages?.length ?? 0) > 0;
}

/** `DynamoDB.GetItem(jobs)`: the operation and the logical table or queue it touched (the prefix removed). */
export function callLabel(
  service: string,
  commandName: string | undefined,
  input: unknown,
  prefix: string,
): string {
  const op = String(commandName).replace(/Command$/, '');
  const target = callTarget(input, prefix);
  return target ? `${service}.${op}(${target})` : `${service}.${op}`;
}

function callTarget(input: unknown, prefix: string): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const record = input as Record<string, unknown>;
  const logical = (name: string) => {
    const physical = name.startsWith(`${prefix}-`) ? name.slice(prefix.length + 1) : name;
    // A table renamed by its definition (`runs-v2`) is labelled by its logical name.
    const short = tables.find((t) => t.physicalSuffix === physical)?.logicalName ?? physical;
    // Every worker's own queue (`worker-<id>-<hash>`) under one label.
    return short.startsWith('worker-') ? 'worker' : short;
  };
  if (typeof record.TableName === 'string') return logical(record.TableName);
  if (typeof record.RequestItems === 'object' && record.RequestItems !== null)
    return Object.keys(record.RequestItems).map(logical).sort().join('+');
  if (typeof record.QueueUrl === 'string') return logical(record.QueueUrl.split('/').at(-1) ?? '');
  if (Array.isArray(record.TransactItems)) {
    const tables = new Set<string>();
    for (const item of record.TransactItems as Record<string, { TableName?: string } | undefined>[]) {
      for (const [action, part] of Object.entries(item)) {
        // A condition check writes nothing (no index entries): `check:jobs`, so the cost model can tell.
        if (part?.TableName)
          tables.add(`${action === 'ConditionCheck' ? 'check:' : ''}${logical(part.TableName)}`);
      }
    }
    return [...tables].sort().join('+');
  }
  return undefined;
}

/**
 * Where the time between `from` and `to` went: milliseconds inside AWS calls by label (clipped to
 * the window; concurrent calls each count their own time), and `outside AWS calls` for the rest
 * (the window minus the union of the calls: event loop, ZeroMQ, encoding, waiting).
 */
export function breakdown(calls: readonly TimedCall[], from: number, to: number): Record<string, number> {
  const out: Record<string, number> = {};
  const spans: [number, number][] = [];
  for (const call of calls) {
    const start = Math.max(call.start, from);
    const end = Math.min(call.end, to);
    if (end <= start) continue;
    out[call.label] = (out[call.label] ?? 0) + (end - start);
    spans.push([start, end]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let reach = from;
  for (const [start, end] of spans) {
    if (end <= reach) continue;
    covered += end - Math.max(start, reach);
    reach = end;
  }
  out['outside AWS calls'] = to - from - covered;
  return out;
}
