/**
 * The agent's SQS queues: its own queue (created on start, deleted on a clean exit) and its pool's
 * shared queue `dispatch-<pool>` when the stage has one (routing ANY delivers there).
 *
 * @example
 * const queues = sqsAgentQueues(clients.sqs, 'clover-dev');
 * const own = await queues.own('batch-eu-1');
 * const pool = await queues.pool('batch'); // null when the pool has no queue
 */
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { awsFailure, errorName } from '../core/adapters/aws-errors';
import {
  ensureWorkerQueue,
  type InboxMessage,
  removeWorkerQueue,
  SqsInbox,
} from '../core/adapters/sqs-inbox';
import { physicalName, poolQueueName } from '../infra/resources';

/** The part of SqsInbox the agent uses. */
export interface AgentQueue {
  readonly queueUrl: string;
  receive(options?: {
    maxMessages?: number;
    waitSeconds?: number;
    signal?: AbortSignal;
  }): Promise<InboxMessage[]>;
  ack(receipt: string): Promise<void>;
  extend(receipt: string, seconds: number): Promise<void>;
  release(receipt: string): Promise<void>;
}

export interface AgentQueues {
  /** Creates (or finds) the worker's own queue. */
  own(workerId: string): Promise<AgentQueue>;
  /** The pool's shared queue, or null when the stage has none for this pool. */
  pool(pool: string): Promise<AgentQueue | null>;
  /** Deletes the worker's own queue (clean exit). */
  remove(queue: AgentQueue): Promise<void>;
}

export function sqsAgentQueues(client: SQSClient, prefix: string): AgentQueues {
  return {
    async own(workerId) {
      return new SqsInbox(client, await ensureWorkerQueue(client, prefix, workerId));
    },
    async pool(pool) {
      const name = physicalName(prefix, poolQueueName(pool));
      try {
        const out = await client.send(new GetQueueUrlCommand({ QueueName: name }));
        return out.QueueUrl ? new SqsInbox(client, out.QueueUrl) : null;
      } catch (error) {
        if (
          errorName(error) === 'QueueDoesNotExist' ||
          errorName(error) === 'AWS.SimpleQueueService.NonExistentQueue'
        )
          return null;
        throw awsFailure(`SQS queue ${name}`, error);
      }
    },
    remove(queue) {
      return removeWorkerQueue(client, queue.queueUrl);
    },
  };
}
