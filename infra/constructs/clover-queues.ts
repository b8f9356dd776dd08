import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { physicalName, type QueueDefinition, type QueueName } from '../resources';

export interface CloverQueuesProps {
  /** The stage's resource prefix, e.g. `clover-dev`. */
  readonly prefix: string;
  /** The definitions to build, normally `queues` from infra/resources.ts (dead-letter queues first). */
  readonly definitions: readonly QueueDefinition[];
}

/**
 * One SQS queue per definition in infra/resources.ts: visibility, retention, long-poll default and
 * redrive policy as defined, SQS-managed server-side encryption, TLS enforced by the queue policy.
 * Pool and worker queues made at runtime (`runtimeDispatchQueue`) are not here: agents create them.
 *
 * @example
 * const queues = new CloverQueues(this, 'Queues', { prefix: 'clover-dev', definitions: queues });
 * queues.queue('fires-dlq').queueArn;
 */
export class CloverQueues extends Construct {
  private readonly byName = new Map<string, Queue>();

  constructor(scope: Construct, id: string, props: CloverQueuesProps) {
    super(scope, id);
    for (const definition of props.definitions) {
      if (this.byName.has(definition.logicalName)) {
        throw new Error(`queue ${JSON.stringify(definition.logicalName)} is defined twice`);
      }
      const deadLetter = definition.deadLetter;
      const deadLetterQueue = deadLetter ? this.byName.get(deadLetter.queue) : undefined;
      if (deadLetter && !deadLetterQueue) {
        throw new Error(
          `queue ${JSON.stringify(definition.logicalName)} names dead-letter queue ${JSON.stringify(deadLetter.queue)}, which is not defined before it`,
        );
      }
      const queue = new Queue(this, definition.logicalName, {
        queueName: physicalName(props.prefix, definition.logicalName),
        visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
        retentionPeriod: Duration.seconds(definition.retentionSeconds),
        receiveMessageWaitTime: Duration.seconds(definition.receiveWaitTimeSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        ...(deadLetter && deadLetterQueue
          ? { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: deadLetter.maxReceiveCount } }
          : {}),
      });
      this.byName.set(definition.logicalName, queue);
    }
  }

  /** The queue built from the definition named `name`; throws when the definitions lack it. */
  queue(name: QueueName): Queue {
    const queue = this.byName.get(name);
    if (!queue) throw new Error(`no queue ${JSON.stringify(name)} among the definitions`);
    return queue;
  }

  /** Every queue with its logical name, in definition order. */
  all(): ReadonlyArray<readonly [string, Queue]> {
    return [...this.byName.entries()];
  }
}
