import { isDeepStrictEqual } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DAY_RUN_SHARDS, OPEN_RUN_SHARDS, shardKey } from '../../infra/resources';
import { type HistoryEntry, isOpenStatus, type Run, RunSchema } from '../model';
import type { Clock } from '../ports';
import {
  DAY_MS,
  DynamoTable,
  decodeItem,
  type Item,
  jsonAttr,
  marshalItem,
  parseJsonAttr,
  ttlSeconds,
  utcDay,
} from './dynamo-items';

/** Runs are kept this long after they are created, then DynamoDB's TTL (`expiresAt`, epoch seconds) deletes them. */
export const RUN_RETENTION_MS = 90 * DAY_MS;

/** Fields that are not plain JSON in the model and are stored as JSON strings. */
const JSON_FIELDS = ['payload', 'result', 'upstream'] as const;

/**
 * The runs table and the item each run is stored as: the model's fields; `payload`, `result` and
 * `upstream` as JSON strings; `expiresAt` = creation + {@link RUN_RETENTION_MS} in epoch seconds for
 * TTL; the index keys of `byDay` and `byOpenKeys` (infra/resources.ts).
 *
 * History entries record the attempt. A transition that does not name the attempt cannot copy the
 * stored one into the appended entry (an update expression cannot read an attribute into a list
 * element), so it writes the entry without it and reads fill it in from the entry before (the
 * attempt changes only through a transition that names it, so this is exact).
 */
export class RunItems {
  readonly table: DynamoTable;

  constructor(
    options: { readonly client: DynamoDBClient; readonly table: string },
    private readonly clock: Clock,
  ) {
    this.table = new DynamoTable(options);
  }

  async get(runId: string): Promise<Run | null> {
    const item = await this.table.get(runKey(runId));
    return item ? this.decode(item) : null;
  }

  encode(run: Run): Item {
    const item = marshalItem({
      ...run,
      payload: jsonAttr(run.payload),
      result: jsonAttr(run.result),
      upstream: jsonAttr(run.upstream),
      expiresAt: ttlSeconds(this.clock.now() + RUN_RETENTION_MS),
      createdAttempt: run.attempt,
      ...runIndexKeys(run.runId, run.scheduledTime),
      open: isOpenStatus(run.status) ? openKey(run.runId) : undefined,
    });
    return item;
  }

  /** `item` is `run` as stored: a retried create that finds it found its own first attempt. */
  holds(item: Item, run: Run): boolean {
    return isDeepStrictEqual(this.decode(item), this.decode(this.encode(run)));
  }

  decode(item: Item): Run {
    return decodeItem(RunSchema, item, this.table.name, (raw) => {
      for (const field of JSON_FIELDS) {
        if (raw[field] !== undefined) raw[field] = parseJsonAttr(raw[field], this.table.name, field);
      }
      raw.history = fillAttempts(raw.history, raw.createdAttempt ?? raw.attempt);
      return raw;
    });
  }
}

export function openKey(runId: string): string {
  return shardKey('open', runId, OPEN_RUN_SHARDS);
}

/**
 * The `byDay` index's keys of a run (infra/resources.ts): its UTC day's shard, and `dayOrder`, the
 * scheduled time then the run id (unique: a position in the shards' merge). The API reads them too.
 */
export function runIndexKeys(runId: string, scheduledTime: string): { day: string; dayOrder: string } {
  return {
    day: shardKey(utcDay(scheduledTime), runId, DAY_RUN_SHARDS),
    dayOrder: `${scheduledTime} ${runId}`,
  };
}

export function runKey(runId: string): Item {
  return { runId: { S: runId } };
}

export function encodeField(field: string, value: unknown): unknown {
  return (JSON_FIELDS as readonly string[]).includes(field) ? jsonAttr(value) : value;
}

export function marshalEntry(entry: Partial<HistoryEntry>): unknown {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
}

/**
 * Fills in the attempt of history entries written without one (see RunItems): the attempt of the
 * entry before, or for the first entries the attempt the run was created with.
 */
function fillAttempts(history: unknown, createdAttempt: unknown): unknown {
  if (!Array.isArray(history)) return history;
  let previous = createdAttempt;
  return history.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return entry;
    const e = entry as Record<string, unknown>;
    if (e.attempt === undefined) return { ...e, attempt: previous };
    previous = e.attempt;
    return e;
  });
}
