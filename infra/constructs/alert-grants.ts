import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { CloverTables } from './clover-tables';

/**
 * What raising an alert takes (core/alerts.ts, RecordingAlertHook): a PENDING record put into the
 * `alerts` table and a message on the `alerts` queue, found by name with GetQueueUrl. The
 * dispatcher (no_worker), the monitor (lost, timeout, misfire, job_unavailable) and the agents
 * (failure, recovery) all raise alerts; only the notifier reads and updates the records afterwards.
 *
 * @example
 * for (const s of raiseAlertStatements(tables, queues.queue('alerts'))) role.addToPrincipalPolicy(s);
 */
export function raiseAlertStatements(tables: CloverTables, alertsQueue: IQueue): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'RecordAlerts',
      actions: ['dynamodb:PutItem'],
      // The table only: putting an item needs no index ARN.
      resources: [tables.table('alerts').tableArn],
    }),
    new PolicyStatement({
      sid: 'QueueAlerts',
      actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
      resources: [alertsQueue.queueArn],
    }),
  ];
}
