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
 * That floor uses minimal items (a two-attribute job, a six-attribute run, a one-condition update),
 * and moto's cost per request grows with the item and the expression it parses, copies and returns:
 * on Clover's own items each call costs more than the floor's. So `measureFloor` also replays, beside
 * the minimal calls, the DynamoDB calls of one recorded fire of each path with their own inputs (the
 * same items, expressions and return values, under fresh run and lock keys): the path's own-item
 * floor. The minimal floor says what the emulator costs at least; the distance from it to the
 * own-item floor is moto's cost for Clover's items; the distance from the own-item floor to the
 * measured figure is Clover's overhead (serial waits, in-process work, extra calls).
 *
 * `firePath` splits one fire's window (from the fire to the handler starting) into sequential steps,
 * each ended by an AWS call on the path; `PathStats` gathers them over many fires and sets the median
 * total against the median floor of the same path.
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
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

/** Median milliseconds of each call of a replayed path, in the path's order (undefined: not replayed). */
export type ShapedFloor = readonly (number | undefined)[];

/**
 * The minimal floor, and for each `paths` entry (the calls of one recorded fire, with their inputs:
 * CallTimeline.keepInputs) its own-item floor: its DynamoDB calls replayed in order in every round.
 */
export async function measureFloor(
  stack: { readonly emulator: Emulator; readonly prefix: string },
  rounds = 30,
  paths: Readonly<Record<string, readonly TimedCall[]>> = {},
): Promise<{ floor: Floor; shaped: Record<string, ShapedFloor> }> {
  const { emulator, prefix } = stack;
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const timeline = new CallTimeline(clients, prefix);
  const db = clients.dynamodb;
  // The replays' own client, outside the timeline: timed around each send, the SDK call entire.
  const replayClients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const replayDb = replayClients.dynamodb;
  const jobs = physicalName(prefix, 'jobs');
  const runs = physicalName(prefix, 'runs');
  const locks = physicalName(prefix, 'locks');
  const workers = physicalName(prefix, 'workers');
  const leases = physicalName(prefix, 'leases');
  const S = (value: string) => ({ S: value });
  const queueUrl = await ensureWorkerQueue(clients.sqs, prefix, 'floor');
  const written: string[] = [];
  const replays = Object.entries(paths).map(([path, calls]) => ({
    path,
    calls,
    ms: calls.map((): number[] => []),
  }));
  const replayKeys: { table: string; key: Record<string, { S: string }> }[] = [];
  try {
    await db.send(new PutItemCommand({ TableName: jobs, Item: { jobId: S('floor'), listKey: S('job#0') } }));
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
      // A warm dispatcher's worker list: the pool's profiles and every lease (WorkerDirectory's refresh).
      await db.send(
        new QueryCommand({
          TableName: workers,
          IndexName: 'byPool',
          KeyConditionExpression: 'pool = :p',
          ExpressionAttributeValues: { ':p': S('floor') },
        }),
      );
      await db.send(new ScanCommand({ TableName: leases, ConsistentRead: true }));
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `floor ${i}` }));
      const out = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
      );
      const receipt = out.Messages?.[0]?.ReceiptHandle;
      if (receipt)
        await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
    }
    // The replays after the minimal rounds, so the minimal floor is measured exactly as without them,
    // and each path's rounds together: a replayed transaction leaves moto garbage to collect (it
    // copies the tables), which would slow whatever call came next.
    for (const replay of replays) {
      try {
        for (let i = 0; i < rounds; i += 1) {
          const { commands, keys } = replayable(replay.calls, `#${replay.path}${i}`, { runs, locks });
          replayKeys.push(...keys);
          for (const [index, command] of commands.entries()) {
            if (!command) continue;
            const start = performance.now();
            await command(replayDb);
            replay.ms[index]?.push(performance.now() - start);
          }
        }
      } catch {
        // A path whose calls need items written before its window (a completion's transaction expects
        // the claimed run and its held lock) cannot run on fresh keys: it gets no own-item floor.
        for (const ms of replay.ms) ms.length = 0;
      }
    }
    const byLabel = new Map<string, number[]>();
    for (const call of timeline.between(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)) {
      byLabel.set(call.label, [...(byLabel.get(call.label) ?? []), call.end - call.start]);
    }
    return {
      floor: Object.fromEntries([...byLabel].sort().map(([label, ms]) => [label, round(median(ms))])),
      shaped: Object.fromEntries(
        replays.map((replay) => [
          replay.path,
          replay.ms.map((ms) => (ms.length ? round(median(ms)) : undefined)),
        ]),
      ),
    };
  } finally {
    for (const { table, key } of replayKeys) {
      await db.send(new DeleteItemCommand({ TableName: table, Key: key })).catch(() => undefined);
    }
    for (const runId of written) {
      await db
        .send(new DeleteItemCommand({ TableName: runs, Key: { runId: S(runId) } }))
        .catch(() => undefined);
    }
    await removeWorkerQueue(clients.sqs, queueUrl).catch(() => undefined);
    clients.destroy();
    replayClients.destroy();
  }
}

/** One replayed call: sends the recorded input again (its keys rewritten). */
type Replay = (db: DynamoDBClient) => Promise<unknown>;

const REPLAYED: Readonly<Record<string, (input: never) => Replay>> = {
  GetItem: (input: GetItemCommandInput) => (db) => db.send(new GetItemCommand(input)),
  PutItem: (input: PutItemCommandInput) => (db) => db.send(new PutItemCommand(input)),
  UpdateItem: (input: UpdateItemCommandInput) => (db) => db.send(new UpdateItemCommand(input)),
  TransactWriteItems: (input: TransactWriteItemsCommandInput) => (db) =>
    db.send(new TransactWriteItemsCommand(input)),
};

/**
 * A recorded path's DynamoDB calls as commands to send again (undefined for the others: SQS is not
 * replayed, its minimal floor stands in), the run and lock items they write moved to fresh keys
 * (`<key><suffix>`, every string equal to an old key rewritten, so a lock's owner follows its run),
 * and the keys to delete afterwards. Reads of the jobs table, and a transaction's check of the job,
 * stay on the real job: the same item the fire read.
 */
export function replayable(
  calls: readonly TimedCall[],
  suffix: string,
  tables: { readonly runs: string; readonly locks: string },
): {
  commands: (Replay | undefined)[];
  keys: { table: string; key: Record<string, { S: string }> }[];
} {
  type Part = {
    TableName?: string;
    Item?: Record<string, { S?: string }>;
    Key?: Record<string, { S?: string }>;
  };
  const keyNames: Record<string, string> = { [tables.runs]: 'runId', [tables.locks]: 'lockKey' };
  const parts = (input: unknown): Part[] => {
    const record = input as Part & { TransactItems?: Record<string, Part>[] };
    return record.TransactItems ? record.TransactItems.flatMap((item) => Object.values(item)) : [record];
  };
  const renamed = new Map<string, string>();
  const keys: { table: string; key: Record<string, { S: string }> }[] = [];
  for (const call of calls) {
    if (!call.label.startsWith('DynamoDB.') || !call.input) continue;
    for (const part of parts(call.input)) {
      const name = part.TableName ? keyNames[part.TableName] : undefined;
      const old = name ? (part.Item ?? part.Key)?.[name]?.S : undefined;
      if (!name || !part.TableName || old === undefined || renamed.has(old)) continue;
      renamed.set(old, `${old}${suffix}`);
      keys.push({ table: part.TableName, key: { [name]: { S: `${old}${suffix}` } } });
    }
  }
  const commands = calls.map((call) => {
    const op = /^DynamoDB\.(\w+)/.exec(call.label)?.[1];
    const replay = op ? REPLAYED[op] : undefined;
    if (!replay || !call.input) return undefined;
    const input = JSON.parse(JSON.stringify(call.input), (_key, value: unknown) =>
      typeof value === 'string' ? (renamed.get(value) ?? value) : value,
    ) as never;
    return replay(input);
  });
  return { commands, keys };
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
  return stepsOf(pathCalls(calls, from, to), from, to);
}

/** The calls on a fire's path (see firePath), in the order they ended. */
export function pathCalls(calls: readonly TimedCall[], from: number, to: number): TimedCall[] {
  return calls
    .filter((c) => c.end > from && c.end <= to)
    .filter((c) => !c.label.includes('empty') && c.label !== 'DynamoDB.UpdateItem(leases)')
    .filter((c) => c.start >= from || c.label.startsWith('SQS.ReceiveMessage'))
    .sort((a, b) => a.end - b.end);
}

function stepsOf(onPath: readonly TimedCall[], from: number, to: number): PathStep[] {
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

function callsOf(steps: readonly PathStep[]): string[] {
  return steps.filter((s) => s.label !== AFTER_CALLS).map((s) => s.label);
}

/** Fire windows gathered into medians by step, the path's floor and the ratio of the two. */
export class PathStats {
  private readonly fires: PathStep[][] = [];
  /** The calls (with inputs, when kept) of the latest fire of each distinct path, by path. */
  private readonly latest = new Map<string, readonly TimedCall[]>();

  /** One fire's steps (firePath), and the calls they came from (pathCalls) to replay for the own-item floor. */
  add(steps: readonly PathStep[], calls: readonly TimedCall[] = []): void {
    this.fires.push([...steps]);
    if (calls.length) this.latest.set(calls.map((c) => c.label).join(' → '), calls);
  }

  /** The calls of the latest fire that took the most common path (what `summary` reports the steps of). */
  commonCalls(): readonly TimedCall[] {
    return this.latest.get(this.commonPath()[0]) ?? [];
  }

  private commonPath(): [string, PathStep[][]] {
    const byPath = new Map<string, PathStep[][]>();
    for (const steps of this.fires) {
      const key = callsOf(steps).join(' → ');
      byPath.set(key, [...(byPath.get(key) ?? []), steps]);
    }
    return [...byPath].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  }

  /**
   * p50/p99 of the whole window; the floor (the sum of the floors of the calls on each fire's path,
   * median over fires) and p50 / floor; with `shaped` (the replay of `commonCalls()`), the common
   * path's own-item floor and p50 over it; and, over the fires that took the most common path, the
   * median of each step in order.
   */
  summary(floor: Floor, shaped?: ShapedFloor): Record<string, unknown> {
    const totals = this.fires.map((steps) => steps.reduce((sum, s) => sum + s.ms, 0));
    const unknown = new Set<string>();
    const floors = this.fires.map((steps) =>
      callsOf(steps).reduce((sum, label) => {
        const ms = callFloor(label, floor);
        if (ms === undefined) unknown.add(label);
        return sum + (ms ?? 0);
      }, 0),
    );
    const [path, common] = this.commonPath();
    const p50 = percentile(totals, 50);
    const floorMs = median(floors);
    // A call not replayed (SQS) counts at its minimal floor in the own-item floor too.
    const ownItem = shaped?.some((ms) => ms !== undefined)
      ? callsOf(common[0] ?? []).map((label, i) => shaped[i] ?? callFloor(label, floor) ?? 0)
      : undefined;
    const ownItemFloorMs = ownItem?.reduce((sum, ms) => sum + ms, 0);
    return {
      p50: round(p50),
      p99: round(percentile(totals, 99)),
      floorMs: round(floorMs),
      p50OverFloor: Number((p50 / floorMs).toFixed(2)),
      ...(ownItemFloorMs
        ? {
            ownItemFloorMs: round(ownItemFloorMs),
            p50OverOwnItemFloor: Number((p50 / ownItemFloorMs).toFixed(2)),
          }
        : {}),
      path,
      pathShare: Number((common.length / Math.max(1, this.fires.length)).toFixed(2)),
      steps: Object.fromEntries(
        (common[0] ?? []).map((step, i) => [
          `${i + 1}. ${step.label}`,
          {
            ms: round(median(common.map((steps) => steps[i]?.ms ?? Number.NaN))),
            inCallMs: round(median(common.map((steps) => steps[i]?.inCallMs ?? Number.NaN))),
            ...(floor[step.label] === undefined ? {} : { floorMs: floor[step.label] }),
            ...(shaped?.[i] === undefined ? {} : { ownItemFloorMs: shaped[i] }),
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
  ) {
    // The own-item floor replays a recorded fire's calls: the timeline keeps their inputs.
    if (stack.calls instanceof CallTimeline) stack.calls.keepInputs = true;
  }

  /** One fire of `path` from `from` to `to`, read from the stack's timeline or from `calls` (another client's). */
  record(
    path: string,
    from: number,
    to: number,
    calls: Pick<CallTimeline, 'between'> = this.stack.calls,
  ): void {
    const stats = this.paths.get(path) ?? new PathStats();
    this.paths.set(path, stats);
    const onPath = pathCalls(calls.between(from, to), from, to);
    stats.add(stepsOf(onPath, from, to), onPath);
  }

  async summary(rounds = 30): Promise<{ fireToStartBreakdown: Record<string, unknown>; floorMs: Floor }> {
    const { floor, shaped } = await measureFloor(
      this.stack,
      rounds,
      Object.fromEntries([...this.paths].map(([name, stats]) => [name, stats.commonCalls()])),
    );
    return {
      fireToStartBreakdown: Object.fromEntries(
        [...this.paths].map(([name, stats]) => [name, stats.summary(floor, shaped[name])]),
      ),
      floorMs: floor,
    };
  }
}
