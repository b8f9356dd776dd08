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
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import {
  ConflictException,
  CreateScheduleGroupCommand,
  DeleteScheduleGroupCommand,
  GetScheduleGroupCommand,
  ResourceNotFoundException as ScheduleResourceNotFound,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { DeleteQueueCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import {
  physicalName,
  type QueueName,
  queues,
  scheduleGroupName,
  type TableName,
  tables,
  validatePrefix,
} from '../../infra/resources';
import { UnavailableError } from '../errors';
import type { AwsClients } from './aws-clients';
import { awsFailure } from './aws-errors';
import type { ProvisionOptions } from './provision-options';
import { ensureQueues, listQueueUrls, queueUrl } from './provision-queues';
import { ensureTable } from './provision-tables';

export type { ProvisionAction, ProvisionOptions, ProvisionProgress } from './provision-options';
export { type EnsuredQueue, ensureQueue, removeQueue } from './provision-queues';
export { ensureTable } from './provision-tables';

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

/** SDK failures leave as Clover errors: connection refused or throttled is a retryable UnavailableError. */
async function withUnavailable<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw awsFailure(what, error);
  }
}
