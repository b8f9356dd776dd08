import { Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface SchedulerInvokeRoleProps {
  /** The stage's schedule group: only its schedules may assume the role. */
  readonly scheduleGroup: IScheduleGroup;
}

/**
 * The execution role EventBridge Scheduler assumes for every job schedule (created at runtime by
 * the job API, `core/adapters/eventbridge-schedule-gateway.ts`). The trust policy admits
 * `scheduler.amazonaws.com` only on behalf of this account and this stage's schedule group
 * (confused-deputy protection); permissions are added with `allowInvoke` and `allowDeadLetter`.
 *
 * @example
 * const role = new SchedulerInvokeRole(this, 'SchedulerRole', { scheduleGroup });
 * role.allowInvoke(dispatcher.fn);
 * role.allowDeadLetter(queues.queue('fires-dlq'));
 */
export class SchedulerInvokeRole extends Construct {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: SchedulerInvokeRoleProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnEquals: { 'aws:SourceArn': props.scheduleGroup.scheduleGroupArn },
        },
      }),
      description: `EventBridge Scheduler: schedules in ${props.scheduleGroup.scheduleGroupName} invoke the dispatcher`,
    });
  }

  /** Lets the schedules invoke `fn` (the unqualified function, the target every schedule names). */
  allowInvoke(fn: IFunction): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'InvokeDispatcher',
        actions: ['lambda:InvokeFunction'],
        resources: [fn.functionArn],
      }),
    );
  }

  /** Lets Scheduler put fires it could not deliver on `queue` (the schedules' DeadLetterConfig). */
  allowDeadLetter(queue: IQueue): void {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'DeadLetterFires',
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn],
      }),
    );
  }
}
