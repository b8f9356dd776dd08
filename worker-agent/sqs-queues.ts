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
import { ensureQueue } from '../core/adapters/provision';
import {
  type DeadLetter,
  type DeadLetterResult,
  type InboxMessage,
  removeWorkerQueue,
  SqsInbox,
} from '../core/adapters/sqs-inbox';
import { CloverError } from '../core/errors';
import { physicalName, poolQueueName, runtimeDispatchQueue, workerQueueName } from '../infra/resources';

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
  /** Moves up to 10 poison messages to the queue's dead-letter queue at once (SqsInbox.deadLetter). */
  deadLetter(messages: readonly DeadLetter[]): Promise<DeadLetterResult>;
}

export interface AgentQueues {
  /** Creates (or finds) the worker's own queue. */
  own(workerId: string): Promise<AgentQueue>;
  /** The pool's shared queue, or null when the stage has none for this pool. */
  pool(pool: string): Promise<AgentQueue | null>;
  /** Deletes the worker's own queue (clean exit) if this process created it. */
  remove(queue: AgentQueue): Promise<void>;
}

export function sqsAgentQueues(client: SQSClient, prefix: string): AgentQueues {
  // Queues this process created: only those are deleted on a clean exit. In AWS the stack makes
  // each agent's queue (-c agents) and the agent policy denies DeleteQueue, so they stay.
  const created = new Set<string>();
  return {
    async own(workerId) {
      const name = physicalName(prefix, workerQueueName(workerId));
      let made = false;
      try {
        const { url } = await ensureQueue(client, prefix, runtimeDispatchQueue(workerQueueName(workerId)), {
          onProgress: (step) => {
            if (step.action === 'created') made = true;
          },
        });
        if (made) created.add(url);
        return new SqsInbox(client, url);
      } catch (error) {
        if (isAccessDenied(error)) {
          throw new CloverError(
            'not_found',
            `worker queue ${name} is missing or differs from its definition, and this agent may not create or change queues: deploy the stage with this worker in -c agents (docs/deploy.md, "Worker agents")`,
            { cause: error },
          );
        }
        throw error;
      }
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
    async remove(queue) {
      if (!created.delete(queue.queueUrl)) return;
      await removeWorkerQueue(client, queue.queueUrl);
    },
  };
}

function isAccessDenied(error: unknown): boolean {
  const name = errorName(error) ?? errorName((error as { cause?: unknown } | null)?.cause);
  return (
    name === 'AccessDenied' ||
    name === 'AccessDeniedException' ||
    name === 'AWS.SimpleQueueService.AccessDenied'
  );
}
