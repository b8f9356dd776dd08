/**
 * Creates (and removes) a stage's tables, queues and schedule group from `infra/resources.ts` —
 * on an emulator for `npm start` and the integration tests; the CDK stack does the same in AWS from
 * the same definitions.
 *
 * Idempotent: every step looks first and creates only what is missing, so running `provision` on a
 * complete stack sends only reads and changes nothing. An existing resource that contradicts its
 * definition in a way that cannot be fixed in place (another key schema, TTL on another attribute)
 * is an error naming the resource; missing indexes, TTL and changed queue attributes are added.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  ConflictException,
  CreateScheduleGroupCommand,
  DeleteScheduleGroupCommand,
  GetScheduleGroupCommand,
  ResourceNotFoundException as ScheduleResourceNotFound,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  type QueueAttributeName,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type IndexDefinition,
  type KeyAttribute,
  physicalName,
  projectionOf,
  type QueueDefinition,
  type QueueName,
  queues,
  scheduleGroupName,
  type TableDefinition,
  type TableName,
  tables,
  validatePrefix,
} from '../../infra/resources';
import { CloverError, UnavailableError } from '../errors';
import type { AwsClients } from './aws-clients';
import { awsFailure } from './aws-errors';

export type ProvisionAction = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';

export interface ProvisionProgress {
  readonly resource: 'table' | 'queue' | 'scheduleGroup';
  /** The physical name. */
  readonly name: string;
  readonly action: ProvisionAction;
  /** What was changed, for `updated`. */
  readonly detail?: string;
}

export interface ProvisionOptions {
  /** Called once per resource with what was done to it. */
  readonly onProgress?: (progress: ProvisionProgress) => void;
  /** How long to wait for a table or index to become ACTIVE. @default 120000 */
  readonly timeoutMs?: number;
}

export interface ProvisionedStack {
  readonly prefix: string;
  /** Physical table names by logical name. */
  readonly tables: Readonly<Record<TableName, string>>;
  /** Queue URLs by logical name, dead-letter queues (`alerts-dlq`, ...) included. */
  readonly queues: Readonly<Record<QueueName, string>>;
  readonly queueArns: Readonly<Record<QueueName, string>>;
  readonly scheduleGroup: string;
}

export type ProvisionClients = Pick<AwsClients, 'dynamodb' | 'sqs' | 'scheduler'>;

/**
 * Creates every table (with its indexes, waiting until ACTIVE, then TTL), every queue (dead-letter
 * queues first, then the queues that redrive to them) and the schedule group for `prefix`.
 * @example
 * const stack = await provision(awsClients({ endpoint }), 'clover-dev');
 * stack.tables.runs; // 'clover-dev-runs-v2'
 * stack.queues['dispatch-default']; // 'http://127.0.0.1:4566/000000000000/clover-dev-dispatch-default'
 */
export async function provision(
  clients: ProvisionClients,
  prefix: string,
  options: ProvisionOptions = {},
): Promise<ProvisionedStack> {
  validatePrefix(prefix);
  return withUnavailable(`provisioning ${prefix}`, async () => {
    const [tableNames, queueResults, scheduleGroup] = await Promise.all([
      Promise.all(tables.map((table) => ensureTable(clients.dynamodb, prefix, table, options))),
      ensureQueues(clients.sqs, prefix, options),
      ensureScheduleGroup(clients.scheduler, prefix, options),
    ]);
    const tablesByName = Object.fromEntries(tables.map((t, i) => [t.logicalName, tableNames[i]]));
    return {
      prefix,
      tables: tablesByName as Record<TableName, string>,
      queues: Object.fromEntries([...queueResults].map(([name, q]) => [name, q.url])) as Record<
        QueueName,
        string
      >,
      queueArns: Object.fromEntries([...queueResults].map(([name, q]) => [name, q.arn])) as Record<
        QueueName,
        string
      >,
      scheduleGroup,
    };
  });
}

/**
 * Deletes everything `provision` made for `prefix`, plus the pool and worker queues made at runtime
 * (`${prefix}-dispatch-*`, `${prefix}-worker-*`). Missing resources are skipped. The schedule group
 * goes first and takes its schedules with it, so nothing fires into half-deleted resources.
 */
export async function teardown(
  clients: ProvisionClients,
  prefix: string,
  options: Pick<ProvisionOptions, 'onProgress'> = {},
): Promise<void> {
  validatePrefix(prefix);
  const report = options.onProgress ?? (() => {});
  await withUnavailable(`tearing down ${prefix}`, async () => {
    const group = scheduleGroupName(prefix);
    // Looked up first: moto 5.2 answers DeleteScheduleGroup on a missing group with an HTML 500.
    const exists = await clients.scheduler.send(new GetScheduleGroupCommand({ Name: group })).then(
      () => true,
      (error: unknown) => {
        if (error instanceof ScheduleResourceNotFound) return false;
        throw error;
      },
    );
    try {
      if (exists) await clients.scheduler.send(new DeleteScheduleGroupCommand({ Name: group }));
      report({ resource: 'scheduleGroup', name: group, action: exists ? 'deleted' : 'absent' });
    } catch (error) {
      if (!(error instanceof ScheduleResourceNotFound)) throw error;
      report({ resource: 'scheduleGroup', name: group, action: 'absent' });
    }

    const urls = new Set<string>();
    for (const pattern of ['dispatch-', 'worker-']) {
      for (const url of await listQueueUrls(clients.sqs, physicalName(prefix, pattern))) urls.add(url);
    }
    for (const queue of [...queues].reverse()) {
      const url = await queueUrl(clients.sqs, physicalName(prefix, queue.logicalName));
      if (url === undefined)
        report({ resource: 'queue', name: physicalName(prefix, queue.logicalName), action: 'absent' });
      else urls.add(url);
    }
    for (const url of urls) {
      const name = url.slice(url.lastIndexOf('/') + 1);
      try {
        await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
        report({ resource: 'queue', name, action: 'deleted' });
      } catch (error) {
        if (!(error instanceof QueueDoesNotExist)) throw error;
        report({ resource: 'queue', name, action: 'absent' });
      }
    }

    await Promise.all(
      tables.map(async (table) => {
        const name = physicalName(prefix, table.logicalName);
        try {
          await clients.dynamodb.send(new DeleteTableCommand({ TableName: name }));
          report({ resource: 'table', name, action: 'deleted' });
        } catch (error) {
          if (!(error instanceof ResourceNotFoundException)) throw error;
          report({ resource: 'table', name, action: 'absent' });
        }
      }),
    );
  });
}

/** Creates the table if missing, adds missing indexes and TTL; returns its physical name. */
export async function ensureTable(
  dynamodb: DynamoDBClient,
  prefix: string,
  definition: TableDefinition,
  options: ProvisionOptions = {},
): Promise<string> {
  const name = physicalName(prefix, definition.logicalName);
  const report = options.onProgress ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 120_000;
  const changes: string[] = [];

  let table = await describeTable(dynamodb, name);
  if (table === undefined) {
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: definition.billingMode,
          AttributeDefinitions: attributeDefinitions(name, [
            definition.partitionKey,
            definition.sortKey,
            ...definition.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
          ]),
          KeySchema: keySchema(definition.partitionKey, definition.sortKey),
          ...(definition.indexes.length === 0
            ? {}
            : { GlobalSecondaryIndexes: definition.indexes.map(globalSecondaryIndex) }),
        }),
      );
      changes.push('created');
    } catch (error) {
      // Another process created it between our look and our create: fall through and check it.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  table = await waitForTable(dynamodb, name, timeoutMs);

  const expectedKeys = keySchema(definition.partitionKey, definition.sortKey);
  if (!sameKeySchema(table.KeySchema, expectedKeys)) {
    throw new CloverError(
      'already_exists',
      `table ${name} exists with key schema ${JSON.stringify(table.KeySchema)}, not ${JSON.stringify(expectedKeys)}; delete it (teardown) and provision again`,
      { details: { table: name } },
    );
  }

  // Added one at a time: DynamoDB allows one index creation per UpdateTable.
  for (const index of definition.indexes) {
    const existing = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.name);
    if (existing !== undefined) {
      if (!sameKeySchema(existing.KeySchema, keySchema(index.partitionKey, index.sortKey))) {
        throw new CloverError(
          'already_exists',
          `index ${index.name} of table ${name} has key schema ${JSON.stringify(existing.KeySchema)}, not the defined one; delete the table (teardown) and provision again`,
          { details: { table: name, index: index.name } },
        );
      }
      continue;
    }
    await dynamodb.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: attributeDefinitions(name, [
          definition.partitionKey,
          definition.sortKey,
          index.partitionKey,
          index.sortKey,
        ]),
        GlobalSecondaryIndexUpdates: [{ Create: globalSecondaryIndex(index) }],
      }),
    );
    table = await waitForTable(dynamodb, name, timeoutMs);
    if (!changes.includes('created')) changes.push(`index ${index.name}`);
  }

  if (definition.ttlAttribute !== undefined) {
    const ttl = (await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name })))
      .TimeToLiveDescription;
    const status = ttl?.TimeToLiveStatus ?? 'DISABLED';
    if (status === 'ENABLED' || status === 'ENABLING') {
      if (ttl?.AttributeName !== definition.ttlAttribute) {
        throw new CloverError(
          'already_exists',
          `table ${name} has TTL on ${ttl?.AttributeName ?? '?'}, not ${definition.ttlAttribute}; DynamoDB allows no change in place`,
          { details: { table: name } },
        );
      }
    } else if (status === 'DISABLED') {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true },
        }),
      );
      if (!changes.includes('created')) changes.push(`ttl ${definition.ttlAttribute}`);
    } else {
      // DISABLING: AWS refuses a change for up to an hour after TTL was turned off.
      throw new UnavailableError(`TTL on table ${name} (being disabled; retry later)`);
    }
  }

  if (changes.includes('created')) report({ resource: 'table', name, action: 'created' });
  else if (changes.length > 0)
    report({ resource: 'table', name, action: 'updated', detail: changes.join(', ') });
  else report({ resource: 'table', name, action: 'unchanged' });
  return name;
}

export interface EnsuredQueue {
  readonly url: string;
  readonly arn: string;
}

/**
 * Creates the queue if missing, or sets its attributes if they differ from the definition. The
 * dead-letter queue it names must exist; its ARN is looked up unless given. Used by `provision`
 * and at runtime for pool and worker queues (`runtimeDispatchQueue` in infra/resources.ts).
 * @example
 * await ensureQueue(clients.sqs, 'clover-dev', runtimeDispatchQueue(workerQueueName('host-1')));
 */
export async function ensureQueue(
  sqs: SQSClient,
  prefix: string,
  definition: QueueDefinition,
  options: ProvisionOptions & { readonly deadLetterArn?: string } = {},
): Promise<EnsuredQueue> {
  const name = physicalName(prefix, definition.logicalName);
  const report = options.onProgress ?? (() => {});
  let deadLetterArn = options.deadLetterArn;
  if (definition.deadLetter !== undefined && deadLetterArn === undefined) {
    const dlqName = physicalName(prefix, definition.deadLetter.queue);
    const dlqUrl = await queueUrl(sqs, dlqName);
    if (dlqUrl === undefined) {
      throw new CloverError(
        'not_found',
        `dead-letter queue ${dlqName} of ${name} does not exist; provision first`,
        {
          details: { queue: name, deadLetterQueue: dlqName },
        },
      );
    }
    deadLetterArn = await queueArn(sqs, dlqUrl);
  }
  const wanted: Partial<Record<QueueAttributeName, string>> = {
    VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(definition.retentionSeconds),
    ReceiveMessageWaitTimeSeconds: String(definition.receiveWaitTimeSeconds),
    ...(definition.deadLetter === undefined
      ? {}
      : {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: deadLetterArn,
            maxReceiveCount: definition.deadLetter.maxReceiveCount,
          }),
        }),
  };

  const existingUrl = await queueUrl(sqs, name);
  if (existingUrl === undefined) {
    // Racing another provisioner is fine: CreateQueue with identical attributes returns the same URL.
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: wanted }));
    const url = created.QueueUrl!;
    const arn = await queueArn(sqs, url);
    report({ resource: 'queue', name, action: 'created' });
    return { url, arn };
  }

  const current =
    (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: existingUrl,
          AttributeNames: [
            'QueueArn',
            'VisibilityTimeout',
            'MessageRetentionPeriod',
            'ReceiveMessageWaitTimeSeconds',
            'RedrivePolicy',
          ],
        }),
      )
    ).Attributes ?? {};
  const changed: Partial<Record<QueueAttributeName, string>> = {};
  for (const key of [
    'VisibilityTimeout',
    'MessageRetentionPeriod',
    'ReceiveMessageWaitTimeSeconds',
  ] as const) {
    if (current[key] !== wanted[key]) changed[key] = wanted[key];
  }
  if (!sameRedrivePolicy(current.RedrivePolicy, wanted.RedrivePolicy)) {
    // An empty string removes a redrive policy the definition no longer has.
    changed.RedrivePolicy = wanted.RedrivePolicy ?? '';
  }
  const keys = Object.keys(changed);
  if (keys.length > 0) {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: existingUrl, Attributes: changed }));
    report({ resource: 'queue', name, action: 'updated', detail: keys.join(', ') });
  } else {
    report({ resource: 'queue', name, action: 'unchanged' });
  }
  return { url: existingUrl, arn: current.QueueArn ?? (await queueArn(sqs, existingUrl)) };
}

/** Deletes a queue made at runtime (a departed worker's queue); a missing queue is not an error. */
export async function removeQueue(sqs: SQSClient, prefix: string, logicalName: string): Promise<boolean> {
  const url = await queueUrl(sqs, physicalName(prefix, logicalName));
  if (url === undefined) return false;
  try {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    return true;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) return false;
    throw error;
  }
}

async function ensureQueues(
  sqs: SQSClient,
  prefix: string,
  options: ProvisionOptions,
): Promise<Map<QueueName, EnsuredQueue>> {
  const made = new Map<string, EnsuredQueue>();
  // In order: each dead-letter queue is listed, and so made, before the queues naming it.
  for (const queue of queues) {
    const deadLetterArn = queue.deadLetter === undefined ? undefined : made.get(queue.deadLetter.queue)?.arn;
    made.set(queue.logicalName, await ensureQueue(sqs, prefix, queue, { ...options, deadLetterArn }));
  }
  return made as Map<QueueName, EnsuredQueue>;
}

async function ensureScheduleGroup(
  scheduler: SchedulerClient,
  prefix: string,
  options: ProvisionOptions,
): Promise<string> {
  const name = scheduleGroupName(prefix);
  const report = options.onProgress ?? (() => {});
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    let state: string | undefined;
    try {
      state = (await scheduler.send(new GetScheduleGroupCommand({ Name: name }))).State;
    } catch (error) {
      if (!(error instanceof ScheduleResourceNotFound)) throw error;
    }
    if (state === undefined) {
      try {
        await scheduler.send(new CreateScheduleGroupCommand({ Name: name }));
        report({ resource: 'scheduleGroup', name, action: 'created' });
        return name;
      } catch (error) {
        // AWS answers ConflictException when the group exists (moto accepts the duplicate): look again.
        if (!(error instanceof ConflictException)) throw error;
      }
    } else if (state !== 'DELETING') {
      report({ resource: 'scheduleGroup', name, action: 'unchanged' });
      return name;
    }
    // In AWS a deleted group lingers as DELETING for a while; it cannot be recreated until it is gone.
    if (Date.now() > deadline) throw new UnavailableError(`schedule group ${name} (still being deleted)`);
    await sleep(1_000);
  }
}

async function describeTable(dynamodb: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** Polls until the table and every index on it are ACTIVE (AWS takes seconds; emulators none). */
async function waitForTable(
  dynamodb: DynamoDBClient,
  name: string,
  timeoutMs: number,
): Promise<TableDescription> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    const table = await describeTable(dynamodb, name);
    const ready =
      table?.TableStatus === 'ACTIVE' &&
      (table.GlobalSecondaryIndexes ?? []).every(
        (i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE',
      );
    if (ready && table !== undefined) return table;
    if (Date.now() > deadline) {
      throw new UnavailableError(
        `table ${name} (status ${table?.TableStatus ?? 'missing'} after ${timeoutMs} ms)`,
      );
    }
    await sleep(delay);
  }
}

function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey === undefined ? [] : [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }]),
  ];
}

function sameKeySchema(
  actual: readonly KeySchemaElement[] | undefined,
  expected: readonly KeySchemaElement[],
): boolean {
  const render = (keys: readonly KeySchemaElement[]) =>
    keys
      .map((k) => `${k.KeyType}:${k.AttributeName}`)
      .sort()
      .join(',');
  return render(actual ?? []) === render(expected);
}

function projection(index: IndexDefinition): GlobalSecondaryIndex['Projection'] {
  const { type, attributes } = projectionOf(index);
  return { ProjectionType: type, ...(attributes ? { NonKeyAttributes: [...attributes] } : {}) };
}

function globalSecondaryIndex(index: IndexDefinition): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: keySchema(index.partitionKey, index.sortKey),
    Projection: projection(index),
  };
}

/** One definition per attribute used in a key; the same name with two types is a definition error. */
function attributeDefinitions(
  table: string,
  keys: readonly (KeyAttribute | undefined)[],
): AttributeDefinition[] {
  const types = new Map<string, KeyAttribute['type']>();
  for (const key of keys) {
    if (key === undefined) continue;
    const seen = types.get(key.name);
    if (seen !== undefined && seen !== key.type) {
      throw new CloverError(
        'internal',
        `table ${table}: attribute ${key.name} is declared as ${seen} and ${key.type}`,
      );
    }
    types.set(key.name, key.type);
  }
  return [...types].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) return undefined;
    throw error;
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = attributes.Attributes?.QueueArn;
  if (arn === undefined) throw new CloverError('internal', `queue ${url} has no QueueArn attribute`);
  return arn;
}

async function listQueueUrls(sqs: SQSClient, namePrefix: string): Promise<string[]> {
  const urls: string[] = [];
  let token: string | undefined;
  do {
    const page = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: namePrefix, MaxResults: 1000, NextToken: token }),
    );
    urls.push(...(page.QueueUrls ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return urls;
}

/** Compares redrive policies by meaning: AWS and the emulators format the JSON differently. */
function sameRedrivePolicy(actual: string | undefined, wanted: string | undefined): boolean {
  const parse = (text: string | undefined) => {
    if (text === undefined || text === '') return undefined;
    try {
      const policy = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
      return `${String(policy.deadLetterTargetArn)}|${Number(policy.maxReceiveCount)}`;
    } catch {
      return text;
    }
  };
  return parse(actual) === parse(wanted);
}

/** SDK failures leave as Clover errors: connection refused or throttled is a retryable UnavailableError. */
async function withUnavailable<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw awsFailure(what, error);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
