/** EventBridgeScheduleGateway against the emulator, through the ScheduleGateway contract. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import {
  EventBridgeScheduleGateway,
  SCHEDULED_TIME_ATTRIBUTE,
} from '../../core/adapters/eventbridge-schedule-gateway';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { scheduleGatewayContract } from '../../core/testing/contracts/schedule-gateway';
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
