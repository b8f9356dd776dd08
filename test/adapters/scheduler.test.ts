/** EventBridgeScheduleGateway against the emulator, through the ScheduleGateway contract. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateScheduleCommand, GetScheduleCommand } from '@aws-sdk/client-scheduler';
import {
  EventBridgeScheduleGateway,
  SCHEDULED_TIME_ATTRIBUTE,
} from '../../core/adapters/eventbridge-schedule-gateway';
import { provision } from '../../core/adapters/provision';
import type { FireRequest } from '../../core/dispatch';
import { silentLogger } from '../../core/log';
import { plannerInput } from '../../core/planner';
import { SchedulerClock } from '../../core/scheduler-clock';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { scheduleGatewayContract } from '../../core/testing/contracts/schedule-gateway';
import { PLANNER_SCHEDULE_NAME } from '../../infra/resources';
import { useEmulator } from '../harness';

const aws = useEmulator();
const DISPATCHER = 'arn:aws:lambda:us-east-1:000000000000:function:clover-dispatcher';
const ROLE = 'arn:aws:iam::000000000000:role/clover-scheduler';

async function subject() {
  const stack = await aws.provisioned();
  return {
    stack,
    schedules: new EventBridgeScheduleGateway({
      client: aws.clients.scheduler,
      groupName: stack.scheduleGroup,
      dispatcherArn: DISPATCHER,
      roleArn: ROLE,
      deadLetterArn: stack.queueArns['fires-dlq'],
    }),
  };
}

scheduleGatewayContract('EventBridge Scheduler', subject);

describe('EventBridge schedule target', () => {
  it('targets the dispatcher with {jobId, scheduledTime} from the context attribute, flexible window off', async () => {
    const { stack, schedules } = await subject();
    const jobId = uniqueId('job');
    await schedules.upsert({ jobId, expression: 'rate(5 minutes)', timezone: 'UTC', enabled: true });
    const out = await aws.clients.scheduler.send(
      new GetScheduleCommand({ Name: jobId, GroupName: stack.scheduleGroup }),
    );
    assert.equal(out.Target?.Arn, DISPATCHER);
    assert.equal(out.Target?.RoleArn, ROLE);
    assert.deepEqual(JSON.parse(out.Target?.Input ?? '{}'), {
      jobId,
      scheduledTime: SCHEDULED_TIME_ATTRIBUTE,
    });
    assert.equal(out.Target?.DeadLetterConfig?.Arn, stack.queueArns['fires-dlq']);
    assert.equal(out.FlexibleTimeWindow?.Mode, 'OFF');
    assert.equal(out.State, 'ENABLED');
  });
});

describe("the stage's own schedules in the group", () => {
  it('_clover-planner is not a job schedule: listing, the scheduler clock, removes and provisioning leave it be', async () => {
    const { stack, schedules } = await subject();
    // As the CDK stack creates it (infra/constructs/planner-schedule.ts).
    await aws.clients.scheduler.send(
      new CreateScheduleCommand({
        Name: PLANNER_SCHEDULE_NAME,
        GroupName: stack.scheduleGroup,
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: DISPATCHER,
          RoleArn: ROLE,
          Input: JSON.stringify(plannerInput(SCHEDULED_TIME_ATTRIBUTE)),
        },
      }),
    );
    const jobId = uniqueId('job');
    await schedules.upsert({ jobId, expression: 'rate(1 minute)', timezone: 'UTC', enabled: true });

    const listed = (await schedules.list()).map((e) => e.jobId);
    assert.ok(listed.includes(jobId), 'job schedules are listed');
    assert.ok(!listed.some((id) => id.startsWith('_')), `no reserved name listed: ${listed.join(', ')}`);

    // The local scheduler clock fires what the gateway lists: never the planner's schedule as a job.
    const fired: FireRequest[] = [];
    const clock = new SchedulerClock({
      schedules,
      fire: async (request) => fired.push(request),
      log: silentLogger,
    });
    const t0 = Date.now();
    await clock.tick(t0);
    await clock.tick(t0 + 180_000);
    assert.ok(
      fired.some((r) => r.jobId === jobId),
      'the job schedule fired',
    );
    assert.ok(!fired.some((r) => r.jobId.startsWith('_')), 'the planner schedule fired as no job');

    // A remove by job id cannot reach it, nor can provisioning the stage again.
    await schedules.remove(PLANNER_SCHEDULE_NAME);
    await schedules.remove(jobId);
    await provision(aws.setupClients, stack.prefix);
    const kept = await aws.clients.scheduler.send(
      new GetScheduleCommand({ Name: PLANNER_SCHEDULE_NAME, GroupName: stack.scheduleGroup }),
    );
    assert.deepEqual(JSON.parse(kept.Target?.Input ?? '{}'), plannerInput(SCHEDULED_TIME_ATTRIBUTE));
    assert.equal(await schedules.get(jobId), null, 'the job schedule itself was removed');
  });
});
