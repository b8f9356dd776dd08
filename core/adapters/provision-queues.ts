/** A stage's SQS queues from their definitions in infra/resources.ts (provision.ts), and queues made at runtime. */
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
import { physicalName, type QueueDefinition, type QueueName, queues } from '../../infra/resources';
import { CloverError } from '../errors';
import type { ProvisionOptions } from './provision-options';

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

/** Every queue of the stage, each dead-letter queue before the queues that redrive to it. */
export async function ensureQueues(
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

export async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
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

export async function listQueueUrls(sqs: SQSClient, namePrefix: string): Promise<string[]> {
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
