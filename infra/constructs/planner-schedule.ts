import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnSchedule, ContextAttribute, type IScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { PLANNER_PERIOD_MS, plannerInput } from '../../core/planner';
import { PLANNER_SCHEDULE_NAME } from '../resources';

export interface PlannerScheduleProps {
  /** The stage's schedule group: the scheduler role may be assumed only by its schedules. */
  readonly scheduleGroup: IScheduleGroup;
  /** The role the job schedules run as; it already may invoke the dispatcher. */
  readonly schedulerRole: IRole;
  /** The dispatcher, which routes `{planner: true}` invocations to its planner (core/planner.ts). */
  readonly dispatcher: IFunction;
}

/**
 * The precise-jobs planner's one schedule (docs/precise-jobs.md): `rate(1 minute)`, no flexible
 * window, invoking the dispatcher with `{"planner": true, "scheduledTime": <scheduled-time>}`.
 *
 * It lives in the stage's group (so the scheduler role's trust, which names that group, covers it,
 * and the role needs no new grant) under a name no job schedule can take: job ids, and so job
 * schedule names, start with a letter or digit. A pass is only useful within a couple of minutes of
 * its instant (the next pass plans the same window), so Scheduler retries it briefly and keeps no
 * dead letter: a dropped pass shows in the group's `scheduler-dropped` alarm.
 */
export class PlannerSchedule extends Construct {
  readonly schedule: CfnSchedule;

  constructor(scope: Construct, id: string, props: PlannerScheduleProps) {
    super(scope, id);
    this.schedule = new CfnSchedule(this, 'Schedule', {
      name: PLANNER_SCHEDULE_NAME,
      groupName: props.scheduleGroup.scheduleGroupName,
      description: 'Clover: plans the fires of precise jobs (precision: SECOND) ahead of their instants',
      scheduleExpression: `rate(${PLANNER_PERIOD_MS / 60_000} minute)`,
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: props.dispatcher.functionArn,
        roleArn: props.schedulerRole.roleArn,
        input: JSON.stringify(plannerInput(ContextAttribute.scheduledTime)),
        retryPolicy: { maximumEventAgeInSeconds: 120, maximumRetryAttempts: 2 },
      },
    });
  }
}
