/** A stage's DynamoDB tables from their definitions in infra/resources.ts (provision.ts). */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeDefinition,
  CreateTableCommand,
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
  type IndexDefinition,
  type KeyAttribute,
  physicalName,
  projectionOf,
  type TableDefinition,
} from '../../infra/resources';
import { CloverError, UnavailableError } from '../errors';
import type { ProvisionOptions } from './provision-options';

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
