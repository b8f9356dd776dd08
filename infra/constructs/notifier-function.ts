import { Duration, Stack, Token } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NOTIFIER_TIMEOUT_SECONDS, queueDefinition, VISIBILITY_PER_FUNCTION_TIMEOUT } from '../resources';
import { type CloverTables, TABLE_READ_ACTIONS } from './clover-tables';
import { type CloverFunctionLogProps, CloverNodeFunction, logPropsOf } from './node-function';

export interface NotifierFunctionProps extends CloverFunctionLogProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The function is named `${prefix}-notifier`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The `alerts` queue the function consumes (and re-queues digests on, delayed). */
  readonly alertsQueue: IQueue;
  /**
   * The sender of alert mail (`CLOVER_ALERT_FROM`): `alerts@example.com` or `Clover <alerts@example.com>`.
   * The address or its domain must be a verified SES identity in the stack's region; SendEmail is
   * granted on those two identities only, and only with this address as sender.
   */
  readonly alertFrom: string;
  /** The console's base URL (`CLOVER_CONSOLE_URL`); alert mail links to `<url>/runs/<runId>`. */
  readonly consoleUrl: string;
  /** An SES configuration set to send with (event publishing, suppression). @default none */
  readonly sesConfigurationSet?: string;
  /**
   * Most concurrent invocations the alerts queue drives. Keeps the SES send rate (and races on one
   * job's silence window) small; SQS event sources take 2-1000.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * Upper bound of one alert's delivery (mail plus channel posts with their retries). Six times it must
   * not exceed the alerts queue's visibility timeout (infra/resources.ts, AWS's advice for SQS event
   * sources), or a message could be delivered again while still being mailed.
   * @default Duration.seconds(NOTIFIER_TIMEOUT_SECONDS)
   */
  readonly timeout?: Duration;
}

/** `alerts@example.com` out of `alerts@example.com` or `Name <alerts@example.com>`; throws on anything else. */
export function senderAddress(from: string): { readonly address: string; readonly domain: string } {
  if (Token.isUnresolved(from)) {
    throw new Error(
      'alertFrom must be a literal address at synth time (it scopes the SES grant), not a token',
    );
  }
  const match = /^(?:[^<>]*<([^<>\s]+)>|([^<>\s]+))$/.exec(from.trim());
  const address = match?.[1] ?? match?.[2];
  const at = address?.lastIndexOf('@') ?? -1;
  if (!address || at < 1 || at === address.length - 1 || !address.slice(at + 1).includes('.')) {
    throw new Error(
      `alertFrom ${JSON.stringify(from)} is not an email address (alerts@example.com or "Clover <alerts@example.com>")`,
    );
  }
  return { address, domain: address.slice(at + 1) };
}

/**
 * The notifier Lambda (functions/notifier/handler.ts, core/notify.ts): an SQS event source on the
 * `alerts` queue (one alert per invocation, `ReportBatchItemFailures`, so an alert that failed comes
 * back and, after maxReceiveCount receives, goes to `alerts-dlq`), mailing each alert to the job's
 * contacts through SES and posting it to their webhook and chat channels over HTTPS (outbound
 * internet: the function runs outside any VPC, so it needs no NAT and no IAM grant for that). Built as
 * every Clover Lambda is ({@link CloverNodeFunction}); its role holds:
 *
 * - alerts: read and UpdateItem (status, attempts, silence windows, digests); contacts, jobs: read;
 * - the alerts queue: consume (the event source) and SendMessage (delayed digests);
 * - ses:SendEmail on the sender's address and domain identities, with `ses:FromAddress` pinned to
 *   the sender (and the configuration set, when one is given);
 * - its own log group.
 *
 * @example
 * new NotifierFunction(this, 'Notifier', { prefix, tables, alertsQueue, alertFrom: 'alerts@example.com', consoleUrl: 'https://clover.example.com' });
 */
export class NotifierFunction extends CloverNodeFunction {
  constructor(scope: Construct, id: string, props: NotifierFunctionProps) {
    const { address, domain } = senderAddress(props.alertFrom);
    // The stack's own console URL (CloudFront's domain) is known only at deploy time.
    if (!Token.isUnresolved(props.consoleUrl)) {
      let consoleUrl: URL;
      try {
        consoleUrl = new URL(props.consoleUrl);
      } catch {
        throw new Error(`consoleUrl ${JSON.stringify(props.consoleUrl)} is not an absolute URL`);
      }
      if (consoleUrl.protocol !== 'https:' && consoleUrl.protocol !== 'http:') {
        throw new Error(`consoleUrl ${JSON.stringify(props.consoleUrl)} must be http(s)`);
      }
    }
    const timeout = props.timeout ?? Duration.seconds(NOTIFIER_TIMEOUT_SECONDS);
    const visibility = queueDefinition('alerts').visibilityTimeoutSeconds;
    if (timeout.toSeconds() * VISIBILITY_PER_FUNCTION_TIMEOUT > visibility) {
      throw new Error(
        `notifier timeout ${timeout.toSeconds()} s is more than 1/${VISIBILITY_PER_FUNCTION_TIMEOUT} of the alerts queue's visibility timeout (${visibility} s)`,
      );
    }
    super(scope, id, {
      prefix: props.prefix,
      name: 'notifier',
      entry: 'functions/notifier/handler.ts',
      description: 'Clover notifier: alerts queue -> SES email and webhooks to the job contacts',
      memorySize: props.memorySize ?? 256,
      timeout,
      ...logPropsOf(props),
      environment: {
        CLOVER_ALERT_FROM: props.alertFrom,
        CLOVER_CONSOLE_URL: props.consoleUrl,
        ...(props.sesConfigurationSet ? { CLOVER_SES_CONFIGURATION_SET: props.sesConfigurationSet } : {}),
      },
    });
    this.fn.addEventSource(
      new SqsEventSource(props.alertsQueue, {
        // One alert per invocation: posting to a slow webhook may take its retries' worth of deadlines
        // (3 × 5 s plus backoff, core/alert-channels.ts), so ten in a row could outlast the timeout.
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 2,
      }),
    );

    const { tables } = props;
    const stack = Stack.of(this);
    const identity = (name: string) =>
      stack.formatArn({ service: 'ses', resource: 'identity', resourceName: name });
    const statements = [
      new PolicyStatement({
        sid: 'AlertRecords',
        actions: [...TABLE_READ_ACTIONS, 'dynamodb:UpdateItem'],
        resources: tables.arns('alerts'),
      }),
      new PolicyStatement({
        sid: 'ReadContactsAndJobs',
        actions: [...TABLE_READ_ACTIONS],
        resources: tables.arns('contacts', 'jobs'),
      }),
      new PolicyStatement({
        sid: 'QueueDigests',
        actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
        resources: [props.alertsQueue.queueArn],
      }),
      new PolicyStatement({
        sid: 'SendAlertMail',
        actions: ['ses:SendEmail'],
        resources: [
          identity(address),
          identity(domain),
          ...(props.sesConfigurationSet
            ? [
                stack.formatArn({
                  service: 'ses',
                  resource: 'configuration-set',
                  resourceName: props.sesConfigurationSet,
                }),
              ]
            : []),
        ],
        conditions: { StringEquals: { 'ses:FromAddress': address } },
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
  }
}
