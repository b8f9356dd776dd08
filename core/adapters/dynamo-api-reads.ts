import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DAY_RUN_SHARDS, JOB_LIST_SHARDS, physicalName } from '../../infra/resources';
import type {
  AlertFilter,
  ApiReads,
  AuditFilter,
  AuditLog,
  JobFilter,
  RunFilter,
  Visit,
  WalkOptions,
  WalkResult,
} from '../api/ports';
import { type AuditRecord, AuditRecordSchema } from '../api/schemas';
import { type AlertRecord, isoSeconds, type Job, type Run } from '../model';
import type { DynamoAlertStore } from './dynamo-alert-store';
import { type Segment, walk } from './dynamo-index-walk';
import {
  DAY_MS,
  DynamoTable,
  decodeItem,
  type Expr,
  type Item,
  jsonAttr,
  marshalItem,
  parseJsonAttr,
  ttlSeconds,
  utcDay,
} from './dynamo-items';
import { DynamoJobStore, JOB_LIST_KEY } from './dynamo-job-store';
import type { DynamoRunLedger } from './dynamo-run-ledger';

/** Audit records are kept this long, then DynamoDB's TTL deletes them. */
export const AUDIT_RETENTION_MS = 400 * DAY_MS;

/**
 * The management API's paged reads on DynamoDB (core/api/ports.ts): each walk queries one index
 * partition after another (one partition, or one per UTC day of a time window, newest first), a
 * bounded number of Query requests per page, never a Scan. Filters without an index become a
 * FilterExpression on the chosen index; a short page then still carries a position to go on from.
 * The walking itself (pages, shards, cursor positions) is dynamo-index-walk.ts.
 */
export class DynamoApiReads implements ApiReads, AuditLog {
  private readonly jobsTable: DynamoTable;
  private readonly runsTable: DynamoTable;
  private readonly alertsTable: DynamoTable;
  private readonly auditTable: DynamoTable;
  private readonly jobCodec: DynamoJobStore;

  constructor(
    private readonly options: {
      readonly client: DynamoDBClient;
      readonly prefix: string;
      readonly runs: DynamoRunLedger;
      readonly alerts: DynamoAlertStore;
      readonly clock?: { now(): number };
    },
  ) {
    const table = (name: string) =>
      new DynamoTable({ client: options.client, table: physicalName(options.prefix, name) });
    this.jobsTable = table('jobs');
    this.runsTable = table('runs');
    this.alertsTable = table('alerts');
    this.auditTable = table('audit');
    this.jobCodec = new DynamoJobStore({
      client: options.client,
      table: this.jobsTable.name,
      locksTable: physicalName(options.prefix, 'locks'),
    });
  }

  walkJobs(filter: JobFilter, visit: Visit<Job>, options: WalkOptions): Promise<WalkResult> {
    // The most selective filter with an index picks the index; the rest filter its items.
    const [index, attribute, value] = filter.owner
      ? ['byOwner', 'owner', filter.owner]
      : filter.group
        ? ['byGroup', 'group', filter.group]
        : filter.handler
          ? ['byHandler', 'handler', filter.handler]
          : filter.pool
            ? ['byPool', 'pool', filter.pool]
            : ['byList', 'listKey', JOB_LIST_KEY];
    const rest: Array<[string, unknown]> = (
      [
        ['owner', filter.owner],
        ['group', filter.group],
        ['handler', filter.handler],
        ['pool', filter.pool],
        ['mode', filter.mode],
        ['paused', filter.paused],
      ] as Array<[string, unknown]>
    ).filter(([name, v]) => v !== undefined && name !== attribute);
    return walk(
      {
        table: this.jobsTable,
        tableKey: 'jobId',
        segments: [
          {
            id: 'all',
            index,
            partition: [attribute, value],
            sortKey: 'jobId',
            ...(index === 'byList' ? { shards: JOB_LIST_SHARDS, unsharded: true } : {}),
          },
        ],
        newestFirst: false,
        filter: (expr) =>
          equalities(
            expr,
            rest,
            filter.q ? [`contains(${expr.name('searchText')}, ${expr.value(filter.q.toLowerCase())})`] : [],
          ),
        decode: (item) => this.jobCodec.decode(item),
      },
      visit,
      options,
    );
  }

  walkRuns(filter: RunFilter, visit: Visit<Run>, options: WalkOptions): Promise<WalkResult> {
    const range = { attribute: 'scheduledTime', from: isoSeconds(filter.from), to: isoSeconds(filter.to) };
    // The runs indexes hold keys only (infra/resources.ts): the walk reads the runs by key and
    // filters them here. A job or a worker is one partition; else the window's days, shard-merged.
    const keyed: Array<[string, string, string | undefined]> = [
      ['byJob', 'jobId', filter.jobId],
      ['byWorker', 'workerId', filter.workerId],
    ];
    const chosen = keyed.find(([, , v]) => v !== undefined);
    const segments: Segment[] = chosen
      ? [{ id: 'all', index: chosen[0], partition: [chosen[1], chosen[2]!], range }]
      : runDaySegments(filter.from, filter.to);
    const wanted: Array<[keyof Run, string | undefined]> = [
      ['jobId', filter.jobId],
      ['workerId', filter.workerId],
      ['status', filter.status],
    ];
    return walk(
      {
        table: this.runsTable,
        tableKey: 'runId',
        segments,
        newestFirst: true,
        fetch: {
          matches: (run) => wanted.every(([field, value]) => value === undefined || run[field] === value),
        },
        decode: (item) => this.options.runs.decode(item),
      },
      visit,
      options,
    );
  }

  walkAlerts(filter: AlertFilter, visit: Visit<AlertRecord>, options: WalkOptions): Promise<WalkResult> {
    const range = { attribute: 'createdAt', from: filter.from, to: filter.to };
    const segments: Segment[] = filter.jobId
      ? [{ id: 'all', index: 'byJob', partition: ['jobId', filter.jobId], range }]
      : daySegments(filter.from, filter.to, range);
    return walk(
      {
        table: this.alertsTable,
        tableKey: 'alertId',
        segments,
        newestFirst: true,
        filter: (expr) => {
          // OPEN: nobody took it and people were or are being told; ACKNOWLEDGED: someone took it.
          const state =
            filter.status === 'OPEN'
              ? [
                  `attribute_not_exists(${expr.name('acknowledgement')})`,
                  `${expr.name('status')} IN (${['PENDING', 'SENT', 'FAILED'].map((s) => expr.value(s)).join(', ')})`,
                ]
              : filter.status === 'ACKNOWLEDGED'
                ? [`attribute_exists(${expr.name('acknowledgement')})`]
                : [];
          const status = state.length ? undefined : filter.status;
          return equalities(
            expr,
            [
              ['kind', filter.kind],
              ['status', status],
            ],
            state,
          );
        },
        decode: (item) => this.options.alerts.decode(item),
      },
      visit,
      options,
    );
  }

  walkAudit(filter: AuditFilter, visit: Visit<AuditRecord>, options: WalkOptions): Promise<WalkResult> {
    // auditId starts with the ISO instant: a window is a range of ids.
    const range = {
      attribute: 'auditId',
      from: new Date(filter.from).toISOString(),
      to: `${new Date(filter.to).toISOString()}~`,
    };
    const segments: Segment[] = filter.entity
      ? [{ id: 'all', index: 'byEntity', partition: ['entity', filter.entity], range }]
      : daySegments(filter.from, filter.to, range);
    return walk(
      {
        table: this.auditTable,
        tableKey: 'auditId',
        segments,
        newestFirst: true,
        decode: (item) => decodeAudit(item, this.auditTable.name),
      },
      visit,
      options,
    );
  }

  async append(record: AuditRecord): Promise<void> {
    const now = this.options.clock?.now() ?? Date.now();
    await this.auditTable.put({
      Item: marshalItem({
        ...record,
        before: jsonAttr(record.before),
        after: jsonAttr(record.after),
        day: utcDay(record.at),
        expiresAt: ttlSeconds(Math.max(record.at, now) + AUDIT_RETENTION_MS),
      }),
    });
  }
}

function decodeAudit(item: Item, table: string): AuditRecord {
  return decodeItem(AuditRecordSchema, item, table, ({ day: _day, expiresAt: _ttl, ...raw }) => ({
    ...raw,
    before: parseJsonAttr(raw.before, table, 'before'),
    after: parseJsonAttr(raw.after, table, 'after'),
  }));
}

/** One `byDay` partition per UTC day from `to` back to `from`, newest first, each narrowed to `range`. */
function daySegments(from: number, to: number, range: Segment['range']): Segment[] {
  const out: Segment[] = [];
  for (let day = Date.parse(utcDay(to)); day >= Date.parse(utcDay(from)); day -= DAY_MS) {
    const id = utcDay(day);
    out.push({ id, index: 'byDay', partition: ['day', id], range });
  }
  return out;
}

/**
 * The runs `byDay` shards of each UTC day from `to` back to `from`, newest first, narrowed to the
 * window by `dayOrder` (`<scheduledTime> <runId>`: `~` sorts after the space before a run id).
 */
function runDaySegments(from: number, to: number): Segment[] {
  const range = { attribute: 'dayOrder', from: isoSeconds(from), to: `${isoSeconds(to)}~` };
  return daySegments(from, to, range).map((segment) => ({ ...segment, shards: DAY_RUN_SHARDS }));
}

/** `a = :a AND b = :b …` over the pairs whose value is given; undefined when none is. */
function equalities(
  expr: Expr,
  pairs: ReadonlyArray<readonly [string, unknown]>,
  extra: string[] = [],
): string | undefined {
  const terms = pairs
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${expr.name(name)} = ${expr.value(value)}`)
    .concat(extra);
  return terms.length ? terms.join(' AND ') : undefined;
}
