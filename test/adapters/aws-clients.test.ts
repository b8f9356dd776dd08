import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { GetSendQuotaCommand } from '@aws-sdk/client-ses';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { type AwsClients, awsClients, CALL_TIMEOUT_MS } from '../../core/adapters/aws-clients';
import { cloudWatchClient } from '../../core/adapters/cloudwatch-client';
import { useSilentEndpoint } from '../harness/loopback';

const silent = useSilentEndpoint();

// A hang guard only: a client without a deadline hangs here and fails by this bound, naming the test.
const HANG_GUARD = { timeout: 30_000 };
const DEADLINE_MS = 400;

function silentClients(callTimeoutMs?: Partial<Record<keyof typeof CALL_TIMEOUT_MS, number>>): AwsClients {
  return awsClients({
    endpoint: silent.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    ...(callTimeoutMs === undefined ? {} : { callTimeoutMs }),
  });
}

/** Every service the clients hold, with one cheap call each. */
const calls: Record<keyof typeof CALL_TIMEOUT_MS, (clients: AwsClients) => Promise<unknown>> = {
  dynamodb: (c) => c.dynamodb.send(new ListTablesCommand({})),
  sqs: (c) => c.sqs.send(new ListQueuesCommand({})),
  scheduler: (c) => c.scheduler.send(new ListSchedulesCommand({})),
  ses: (c) => c.ses.send(new GetSendQuotaCommand({})),
  secretsManager: (c) => c.secretsManager.send(new ListSecretsCommand({})),
  lambda: (c) => c.lambda.send(new ListFunctionsCommand({})),
  cloudwatch: (c) => {
    const cloudwatch = cloudWatchClient(c);
    return cloudwatch.send(new ListMetricsCommand({})).finally(() => cloudwatch.destroy());
  },
};

for (const [service, call] of Object.entries(calls) as [keyof typeof CALL_TIMEOUT_MS, typeof calls.sqs][]) {
  test(
    `${service}: a call to an endpoint that never answers fails at its deadline with one error line`,
    HANG_GUARD,
    async () => {
      const clients = silentClients({ [service]: DEADLINE_MS });
      try {
        await assert.rejects(call(clients), (error: Error) => {
          assert.equal(error.name, 'TimeoutError');
          // The SDK names the deadline it applied: the one this service was given.
          assert.match(error.message, new RegExp(`configured ${DEADLINE_MS} ms requestTimeout`));
          assert.doesNotMatch(error.message, /\n/);
          return true;
        });
      } finally {
        clients.destroy();
      }
    },
  );
}

test('without callTimeoutMs every service gets its default deadline', HANG_GUARD, async () => {
  // The shortest default (DynamoDB, SQS: 5 s) keeps this test's wait short; the others are the same code.
  assert.ok(CALL_TIMEOUT_MS.sqs <= 5_000);
  const clients = silentClients();
  try {
    await assert.rejects(calls.sqs(clients), (error: Error) => {
      assert.equal(error.name, 'TimeoutError');
      assert.match(error.message, new RegExp(`configured ${CALL_TIMEOUT_MS.sqs} ms requestTimeout`));
      return true;
    });
  } finally {
    clients.destroy();
  }
});
