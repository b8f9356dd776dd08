import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { NotFoundError, VersionConflictError } from '../errors';
import { type Job, JobSchema, type SyncState } from '../model';
import type { JobStore } from '../ports';
import {
  decodeItem,
  dynamoCall,
  Expr,
  type Item,
  jsonAttr,
  marshalItem,
  parseJsonAttr,
} from './dynamo-items';

export interface DynamoJobStoreOptions {
  readonly client: DynamoDBClient;
  /** Physical name of the jobs table (partition key `jobId`). */
  readonly table: string;
}

/**
 * Jobs in DynamoDB, one item per job: `jobId` (key), `spec` (a map; its opaque `payload` stored as a
 * JSON string), `version`, `createdAt`, `updatedAt`, `syncState`, `owner`. Every write is conditional
 * on the stored `version` (optimistic concurrency): a lost race is a {@link VersionConflictError}
 * carrying the version found.
 *
 * @example
 * const jobs = new DynamoJobStore({ client: clients.dynamodb, table: physicalName(prefix, 'jobs') });
 * await jobs.put(job, 0); // create
 */
export class DynamoJobStore implements JobStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoJobStoreOptions) {
    this.client = options.client;
    this.table = options.table;
  }

  async get(jobId: string): Promise<Job | null> {
    const out = await dynamoCall(`table ${this.table}`, () =>
      this.client.send(new GetItemCommand({ TableName: this.table, Key: key(jobId), ConsistentRead: true })),
    );
    return out.Item ? this.decode(out.Item) : null;
  }

  async put(job: Job, expectedVersion: number): Promise<void> {
    const jobId = job.spec.jobId;
    const expr = new Expr();
    const condition =
      expectedVersion === 0
        ? `attribute_not_exists(${expr.name('jobId')})`
        : `${expr.name('version')} = ${expr.value(expectedVersion)}`;
    await dynamoCall(
      `table ${this.table}`,
      () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: encodeJob(job),
            ConditionExpression: condition,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            ...expr.params(),
          }),
        ),
      { conditionFailed: (old) => this.conflict(jobId, expectedVersion, old) },
    );
  }

  async setSyncState(jobId: string, version: number, state: SyncState): Promise<void> {
    const expr = new Expr();
    await dynamoCall(
      `table ${this.table}`,
      () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key(jobId),
            UpdateExpression: `SET ${expr.name('syncState')} = ${expr.value(state)}`,
            ConditionExpression: `${expr.name('version')} = ${expr.value(version)}`,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            ...expr.params(),
          }),
        ),
      { conditionFailed: (old) => this.conflict(jobId, version, old) },
    );
  }

  async delete(jobId: string, expectedVersion?: number): Promise<void> {
    const expr = new Expr();
    const condition =
      expectedVersion === undefined ? undefined : `${expr.name('version')} = ${expr.value(expectedVersion)}`;
    await dynamoCall(
      `table ${this.table}`,
      () =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: key(jobId),
            ...(condition
              ? { ConditionExpression: condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }
              : {}),
            ...expr.params(),
          }),
        ),
      { conditionFailed: (old) => this.conflict(jobId, expectedVersion ?? 0, old) },
    );
  }

  async list(): Promise<Job[]> {
    const jobs: Job[] = [];
    let startKey: Item | undefined;
    do {
      const page = await dynamoCall(`table ${this.table}`, () =>
        this.client.send(
          new ScanCommand({ TableName: this.table, ExclusiveStartKey: startKey, ConsistentRead: true }),
        ),
      );
      for (const item of page.Items ?? []) jobs.push(this.decode(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return jobs.sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId));
  }

  /** A failed version condition: NotFoundError when there is no job to update, else VersionConflictError. */
  private conflict(jobId: string, expectedVersion: number, old: Item | undefined): never {
    if (!old && expectedVersion !== 0) throw new NotFoundError('job', jobId);
    const current = old ? this.decode(old).version : undefined;
    throw new VersionConflictError('job', jobId, expectedVersion, current);
  }

  private decode(item: Item): Job {
    return decodeItem(JobSchema, item, this.table, ({ jobId: _key, ...raw }) => {
      const spec = raw.spec as Record<string, unknown> | undefined;
      if (spec && typeof spec === 'object') {
        raw.spec = { ...spec, payload: parseJsonAttr(spec.payload, this.table, 'spec.payload') };
      }
      return raw;
    });
  }
}

function key(jobId: string): Item {
  return { jobId: { S: jobId } };
}

function encodeJob(job: Job): Item {
  return marshalItem({
    ...job,
    jobId: job.spec.jobId,
    spec: { ...job.spec, payload: jsonAttr(job.spec.payload) },
  });
}
