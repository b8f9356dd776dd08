import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { validatePrefix } from '../resources';

/**
 * The logical-name patterns of the dispatch queues: the stack's `dispatch-default`, and the pool
 * (`dispatch-<pool>`) and worker (`worker-<id>`) queues that agents create at runtime, which no
 * stack can name in advance (infra/resources.ts, `poolQueueName`, `workerQueueName`).
 */
export const DISPATCH_QUEUE_PATTERNS = ['dispatch-*', 'worker-*'] as const;

/**
 * The ARN of every queue of the stage whose logical name matches `pattern`:
 * `arn:<partition>:sqs:<region>:<account>:<prefix>-<pattern>`. Partition, region and account are
 * always the deploy-time pseudo parameters, so the ARN's text (and the cdk-nag finding that names
 * it, see `wildcardQueueFinding`) does not depend on whether the stack was synthesized with an env.
 * @example queueArnPattern(this, 'clover-dev', 'worker-*') // arn:aws:sqs:eu-west-1:123456789012:clover-dev-worker-*
 */
export function queueArnPattern(scope: Construct, prefix: string, pattern: string): string {
  return Stack.of(scope).formatArn({
    service: 'sqs',
    resource: `${validatePrefix(prefix)}-${pattern}`,
    arnFormat: ArnFormat.NO_RESOURCE_NAME,
    partition: Aws.PARTITION,
    region: Aws.REGION,
    account: Aws.ACCOUNT_ID,
  });
}

/**
 * The id of the cdk-nag AwsSolutions-IAM5 finding for a policy naming `queueArnPattern(_, prefix, pattern)`,
 * for `Validations.of(...).acknowledge`.
 */
export function wildcardQueueFinding(prefix: string, pattern: string): string {
  return `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${validatePrefix(prefix)}-${pattern}]`;
}
