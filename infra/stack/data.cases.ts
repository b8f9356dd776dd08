/**
 * The stage's data and naming: one DynamoDB table and one SQS queue per definition in infra/resources.ts,
 * their protection and removal, and the stage prefix.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { CloverQueues } from '../constructs/clover-queues';
import { CloverTables } from '../constructs/clover-tables';
import { stagePrefix } from '../constructs/stage';
import { physicalName, projectionOf, type QueueDefinition, queues, tables } from '../resources';
import { onlyResource, resourcesOf, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX } from './synth';
import { throwaway } from './throwaway-stage';

describe('tables', () => {
  test('GIVEN the table definitions WHEN synthesized THEN there is exactly one table per definition', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', tables.length);
  });

  for (const definition of tables) {
    test(`GIVEN the ${definition.logicalName} definition WHEN synthesized THEN keys, indexes and TTL match it`, () => {
      const keySchema = (partition: { name: string }, sort?: { name: string }) => [
        { AttributeName: partition.name, KeyType: 'HASH' },
        ...(sort ? [{ AttributeName: sort.name, KeyType: 'RANGE' }] : []),
      ];
      const table = onlyResource('AWS::DynamoDB::Table', {
        TableName: physicalName(PREFIX, definition.logicalName),
      });
      const p = table.Properties;
      assert.deepEqual(p.KeySchema, keySchema(definition.partitionKey, definition.sortKey));
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.equal(table.DeletionPolicy, 'Retain');

      const indexes = (p.GlobalSecondaryIndexes ?? []) as Array<Record<string, unknown>>;
      assert.deepEqual(
        indexes.map((i) => ({ name: i.IndexName, keys: i.KeySchema, projection: i.Projection })),
        definition.indexes.map((i) => ({
          name: i.name,
          keys: keySchema(i.partitionKey, i.sortKey),
          projection: projectionOf(i).attributes
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...(projectionOf(i).attributes ?? [])] }
            : { ProjectionType: projectionOf(i).type },
        })),
      );

      const keys = [
        definition.partitionKey,
        definition.sortKey,
        ...definition.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ];
      const expectedAttributes = new Map<string, string>();
      for (const key of keys) if (key) expectedAttributes.set(key.name, key.type);
      assert.deepEqual(
        new Map(
          (p.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: string }>).map((a) => [
            a.AttributeName,
            a.AttributeType,
          ]),
        ),
        expectedAttributes,
      );

      assert.deepEqual(
        p.TimeToLiveSpecification,
        definition.ttlAttribute ? { AttributeName: definition.ttlAttribute, Enabled: true } : undefined,
      );
    });
  }

  test('GIVEN dataRemovalPolicy DESTROY WHEN synthesized THEN tables and the log group are deleted with the stack', () => {
    for (const table of Object.values(throwaway.template.findResources('AWS::DynamoDB::Table'))) {
      assert.equal(table.DeletionPolicy, 'Delete');
    }
    for (const group of Object.values(throwaway.template.findResources('AWS::Logs::LogGroup'))) {
      assert.equal(group.DeletionPolicy, 'Delete');
    }
  });

  test('GIVEN deletionProtection WHEN synthesized THEN every table refuses DeleteTable; without it none does', () => {
    const protectedTables = Object.values(full.template.findResources('AWS::DynamoDB::Table'));
    assert.equal(protectedTables.length, tables.length);
    for (const table of protectedTables) assert.equal(table.Properties.DeletionProtectionEnabled, true);
    const unprotected = Object.values(template.findResources('AWS::DynamoDB::Table'));
    assert.equal(unprotected.length, tables.length, 'every table checked, not none');
    for (const table of unprotected) assert.equal(table.Properties.DeletionProtectionEnabled, false);
  });

  test('GIVEN a definition listed twice WHEN building the tables THEN it is refused by name', () => {
    const app = new App();
    const twice = [tables[0]!, tables[0]!];
    assert.throws(
      () => new CloverTables(new Stack(app, 'Twice'), 'T', { prefix: PREFIX, definitions: twice }),
      new RegExp(`table "${tables[0]!.logicalName}" is defined twice`),
    );
  });
});

describe('queues', () => {
  const queueArn = (logicalName: string) => {
    const [id] = Object.entries(resourcesOf('AWS::SQS::Queue')).find(
      ([, q]) => q.Properties.QueueName === physicalName(PREFIX, logicalName),
    ) ?? [undefined];
    assert.ok(id, `no queue ${logicalName}`);
    return { 'Fn::GetAtt': [id, 'Arn'] };
  };

  test('GIVEN the queue definitions WHEN synthesized THEN there is exactly one queue per definition', () => {
    template.resourceCountIs('AWS::SQS::Queue', queues.length);
  });

  for (const definition of queues) {
    test(`GIVEN the ${definition.logicalName} definition WHEN synthesized THEN its attributes and redrive policy match it`, () => {
      const queue = onlyResource('AWS::SQS::Queue', {
        QueueName: physicalName(PREFIX, definition.logicalName),
      });
      const p = queue.Properties;
      assert.equal(p.VisibilityTimeout, definition.visibilityTimeoutSeconds);
      assert.equal(p.MessageRetentionPeriod, definition.retentionSeconds);
      assert.equal(p.ReceiveMessageWaitTimeSeconds, definition.receiveWaitTimeSeconds);
      assert.equal(p.SqsManagedSseEnabled, true);
      assert.deepEqual(
        p.RedrivePolicy,
        definition.deadLetter
          ? {
              deadLetterTargetArn: queueArn(definition.deadLetter.queue),
              maxReceiveCount: definition.deadLetter.maxReceiveCount,
            }
          : undefined,
      );
    });
  }

  test('GIVEN every queue WHEN synthesized THEN its policy denies requests without TLS', () => {
    template.resourceCountIs('AWS::SQS::QueuePolicy', queues.length);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('GIVEN a queue naming a dead-letter queue defined after it WHEN building THEN it is refused by name', () => {
    const app = new App();
    const definitions: QueueDefinition[] = [
      {
        logicalName: 'work',
        visibilityTimeoutSeconds: 30,
        retentionSeconds: 60,
        receiveWaitTimeSeconds: 0,
        deadLetter: { queue: 'work-dlq', maxReceiveCount: 3 },
      },
      {
        logicalName: 'work-dlq',
        visibilityTimeoutSeconds: 30,
        retentionSeconds: 60,
        receiveWaitTimeSeconds: 0,
      },
    ];
    assert.throws(
      () => new CloverQueues(new Stack(app, 'Late'), 'Q', { prefix: PREFIX, definitions }),
      /queue "work" names dead-letter queue "work-dlq", which is not defined before it/,
    );
  });
});

describe('stage', () => {
  test('GIVEN no stage WHEN naming THEN the prefix is clover-dev', () => {
    assert.equal(stagePrefix(undefined), 'clover-dev');
    assert.equal(stagePrefix('prod'), 'clover-prod');
  });

  test('GIVEN a stage SQS would refuse WHEN naming THEN it is refused with the value', () => {
    assert.throws(() => stagePrefix('a.b'), /"clover-a\.b"/);
    assert.throws(() => stagePrefix(''), /got ""/);
    assert.throws(() => stagePrefix(3), /got 3/);
  });
});
