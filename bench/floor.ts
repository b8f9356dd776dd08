/**
 * The emulator floor: what each AWS call on the fire path costs by itself on this emulator, measured
 * in the same run, so a latency figure can be held against the sum of the calls its path makes.
 *
 * `measureFloor` makes each call alone, one after another (`rounds` times round-robin, so drift in
 * the machine's load falls on every call alike), on the bench's own provisioned tables and a queue of
 * its own — after the bench's workload, so the tables are the size the workload left them (moto's
 * index queries scan and its transactions copy the tables they touch: the cost grows with the table).
 * The calls use raw SDK commands through their own clients and are labelled by bench/aws-timeline.ts,
 * so the labels match the ones a bench's timeline records for the same operation and table.
 *
 * `firePath` splits one fire's window (from the fire to the handler starting) into sequential steps,
 * each ended by an AWS call on the path; `PathStats` gathers them over many fires and sets the median
 * total against the median floor of the same path.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { awsClients } from '../core/adapters/aws-clients';
import { ensureWorkerQueue, removeWorkerQueue } from '../core/adapters/sqs-inbox';
import type { Emulator } from '../infra/local/emulator';
import { physicalName } from '../infra/resources';
import { CallTimeline, type TimedCall } from './aws-timeline';
import { median, percentile, round } from './stats';

/** Median milliseconds of one call, by timeline label (`DynamoDB.GetItem(jobs)`). */
export type Floor = Readonly<Record<string, number>>;

export async function measureFloor(
  stack: { readonly emulator: Emulator; readonly prefix: string },
  rounds = 30,
): Promise<Floor> {
  const { emulator, prefix } = stack;
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const timeline = new CallTimeline(clients, prefix);
  const db = clients.dynamodb;
  const jobs = physicalName(prefix, 'jobs');
  const runs = physicalName(prefix, 'runs');
  const locks = physicalName(prefix, 'locks');
  const workers = physicalName(prefix, 'workers');
  const S = (value: string) => ({ S: value });
  const queueUrl = await ensureWorkerQueue(clients.sqs, prefix, 'floor');
  const written: string[] = [];
  try {
    await db.send(new PutItemCommand({ TableName: jobs, Item: { jobId: S('floor'), listKey: S('job') } }));
    timeline.clear();
    for (let i = 0; i < rounds; i += 1) {
      const runId = `floor@${i}`;
      const scheduledTime = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      const item = {
        runId: S(runId),
        jobId: S('floor'),
        scheduledTime: S(scheduledTime),
        status: S('DISPATCHED'),
        workerId: S('floor'),
        day: S(scheduledTime.slice(0, 10)),
      };
      written.push(runId);
      await db.send(
        new GetItemCommand({ TableName: jobs, Key: { jobId: S('floor') }, ConsistentRead: true }),
      );
      await db.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: runs,
                Item: item,
                ConditionExpression: 'attribute_not_exists(runId)',
              },
            },
            {
              Update: {
                TableName: locks,
                Key: { lockKey: S(`floor-${i}`) },
                UpdateExpression: 'SET #o = :o ADD fence :one',
                ConditionExpression: 'attribute_not_exists(#o)',
                ExpressionAttributeNames: { '#o': 'owner' },
                ExpressionAttributeValues: { ':o': S('floor'), ':one': { N: '1' } },
              },
            },
          ],
        }),
      );
      await db.send(
        new UpdateItemCommand({
          TableName: runs,
          Key: { runId: S(runId) },
          UpdateExpression: 'SET #s = :running',
          ConditionExpression: '#s = :dispatched',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':running': S('RUNNING'), ':dispatched': S('DISPATCHED') },
        }),
      );
      await db.send(
        new UpdateItemCommand({
          TableName: locks,
          Key: { lockKey: S(`floor-${i}`) },
          UpdateExpression: 'REMOVE #o',
          ExpressionAttributeNames: { '#o': 'owner' },
        }),
      );
      await db.send(new GetItemCommand({ TableName: runs, Key: { runId: S(runId) }, ConsistentRead: true }));
      await db.send(new PutItemCommand({ TableName: runs, Item: { ...item, runId: S(`${runId}#put`) } }));
      written.push(`${runId}#put`);
      await db.send(
        new QueryCommand({
          TableName: runs,
          IndexName: 'byJob',
          KeyConditionExpression: 'jobId = :j',
          ExpressionAttributeValues: { ':j': S('floor') },
          ScanIndexForward: false,
          Limit: 5,
        }),
      );
      await db.send(
        new QueryCommand({
          TableName: workers,
          IndexName: 'byPool',
          KeyConditionExpression: 'pool = :p',
          ExpressionAttributeValues: { ':p': S('floor') },
        }),
      );
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `floor ${i}` }));
      const out = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
      );
      const receipt = out.Messages?.[0]?.ReceiptHandle;
      if (receipt)
        await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
    }
    const byLabel = new Map<string, number[]>();
    for (const call of timeline.between(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)) {
      byLabel.set(call.label, [...(byLabel.get(call.label) ?? []), call.end - call.start]);
    }
    return Object.fromEntries([...byLabel].sort().map(([label, ms]) => [label, round(median(ms))]));
  } finally {
    for (const runId of written) {
      await db
        .send(new DeleteItemCommand({ TableName: runs, Key: { runId: S(runId) } }))
        .catch(() => undefined);
    }
    await removeWorkerQueue(clients.sqs, queueUrl).catch(() => undefined);
    clients.destroy();
  }
}

/**
 * The floor of one call: its own label's, else the same operation's on any table (an operation the
 * floor did not make on that table), else undefined.
 */
export function callFloor(label: string, floor: Floor): number | undefined {
  if (floor[label] !== undefined) return floor[label];
  const op = label.replace(/\(.*$/, '');
  const same = Object.entries(floor).filter(([l]) => l.replace(/\(.*$/, '') === op);
  return same.length ? median(same.map(([, ms]) => ms)) : undefined;
}

/** The last step of every path: from the last AWS call to the end of the window (in-process work, ZeroMQ). */
export const AFTER_CALLS = 'after the last AWS call';

export interface PathStep {
  /** The call that ends the step. */
  readonly label: string;
  /** From the previous step's end (or the window's start) to this call's end. */
  readonly ms: number;
  /** The part of `ms` spent inside the call (the rest waited on something else). */
  readonly inCallMs: number;
}

/**
 * One fire's window as sequential steps: the AWS calls on the path are those that end inside the
 * window and either start inside it or are a receive that returned a message (a long poll waiting
 * when the message landed). Empty receives (idle long polls) and lease heartbeats are not on the
 * path. The time after the last call, up to `to`, is the AFTER_CALLS step.
 */
export function firePath(calls: readonly TimedCall[], from: number, to: number): PathStep[] {
  const onPath = calls
    .filter((c) => c.end > from && c.end <= to)
    .filter((c) => !c.label.includes('empty') && c.label !== 'DynamoDB.UpdateItem(workers)')
    .filter((c) => c.start >= from || c.label.startsWith('SQS.ReceiveMessage'))
    .sort((a, b) => a.end - b.end);
  const steps: PathStep[] = [];
  let previous = from;
  for (const call of onPath) {
    steps.push({
      label: call.label,
      ms: call.end - previous,
      inCallMs: call.end - Math.max(call.start, previous),
    });
    previous = call.end;
  }
  steps.push({ label: AFTER_CALLS, ms: to - previous, inCallMs: 0 });
  return steps;
}

/** Fire windows gathered into medians by step, the path's floor and the ratio of the two. */
export class PathStats {
  private readonly fires: PathStep[][] = [];

  /** One fire's steps (firePath). */
  add(steps: readonly PathStep[]): void {
    this.fires.push([...steps]);
  }

  /**
   * p50/p99 of the whole window; the floor (the sum of the floors of the calls on each fire's path,
   * median over fires) and p50 / floor; and, over the fires that took the most common path, the
   * median of each step in order.
   */
  summary(floor: Floor): Record<string, unknown> {
    const callsOf = (steps: readonly PathStep[]) =>
      steps.filter((s) => s.label !== AFTER_CALLS).map((s) => s.label);
    const totals = this.fires.map((steps) => steps.reduce((sum, s) => sum + s.ms, 0));
    const unknown = new Set<string>();
    const floors = this.fires.map((steps) =>
      callsOf(steps).reduce((sum, label) => {
        const ms = callFloor(label, floor);
        if (ms === undefined) unknown.add(label);
        return sum + (ms ?? 0);
      }, 0),
    );
    const byPath = new Map<string, PathStep[][]>();
    for (const steps of this.fires) {
      const key = callsOf(steps).join(' → ');
      byPath.set(key, [...(byPath.get(key) ?? []), steps]);
    }
    const [path, common] = [...byPath].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
    const p50 = percentile(totals, 50);
    const floorMs = median(floors);
    return {
      p50: round(p50),
      p99: round(percentile(totals, 99)),
      floorMs: round(floorMs),
      p50OverFloor: Number((p50 / floorMs).toFixed(2)),
      path,
      pathShare: Number((common.length / Math.max(1, this.fires.length)).toFixed(2)),
      steps: Object.fromEntries(
        (common[0] ?? []).map((step, i) => [
          `${i + 1}. ${step.label}`,
          {
            ms: round(median(common.map((steps) => steps[i]?.ms ?? Number.NaN))),
            inCallMs: round(median(common.map((steps) => steps[i]?.inCallMs ?? Number.NaN))),
            ...(floor[step.label] === undefined ? {} : { floorMs: floor[step.label] }),
          },
        ]),
      ),
      ...(unknown.size ? { callsWithoutFloor: [...unknown] } : {}),
    };
  }
}

/**
 * The per-step breakdown and floor of a latency bench, in three lines of it: `record` each fire's
 * window by path name, then `summary()` measures the floor on the same emulator (after the workload)
 * and returns, per path, p50/p99, the floor, p50 / floor and the steps — plus the floor itself.
 *
 * @example
 * const breakdown = new FireBreakdown(stack);
 * breakdown.record('sqs', firedAt, handlerStartedAt);   // for every fire
 * return { ...figures, ...(await breakdown.summary()) };
 */
export class FireBreakdown {
  private readonly paths = new Map<string, PathStats>();

  constructor(
    private readonly stack: {
      readonly emulator: Emulator;
      readonly prefix: string;
      readonly calls: Pick<CallTimeline, 'between'>;
    },
  ) {}

  /** One fire of `path` from `from` to `to`, read from the stack's timeline or from `calls` (another client's). */
  record(
    path: string,
    from: number,
    to: number,
    calls: Pick<CallTimeline, 'between'> = this.stack.calls,
  ): void {
    const stats = this.paths.get(path) ?? new PathStats();
    this.paths.set(path, stats);
    stats.add(firePath(calls.between(from, to), from, to));
  }

  async summary(rounds = 30): Promise<{ fireToStartBreakdown: Record<string, unknown>; floorMs: Floor }> {
    const floor = await measureFloor(this.stack, rounds);
    return {
      fireToStartBreakdown: Object.fromEntries(
        [...this.paths].map(([name, stats]) => [name, stats.summary(floor)]),
      ),
      floorMs: floor,
    };
  }
}
