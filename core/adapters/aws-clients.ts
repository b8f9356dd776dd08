/**
 * The AWS SDK clients Clover uses, built once and shared: a warm Lambda, an agent or a test file
 * keeps one set, with its connection pool, for its whole life (ARCHITECTURE.md, Budgets).
 *
 * Precedence for each setting: the `config` argument, then the environment (`AWS_ENDPOINT_URL`,
 * `AWS_REGION`, `AWS_DEFAULT_REGION`), then the default (`us-east-1`; the SDK's standard credential
 * chain). An endpoint points every client at an emulator (LocalStack, moto).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESClient } from '@aws-sdk/client-ses';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsClientsConfig {
  /** @default process.env.AWS_ENDPOINT_URL, else AWS's own endpoints */
  readonly endpoint?: string;
  /** @default process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' */
  readonly region?: string;
  /** @default the SDK's standard chain (environment, profile, instance or task role) */
  readonly credentials?: AwsCredentials;
  /** Attempts per request, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Per-call deadlines by service, over {@link CALL_TIMEOUT_MS}. For tools that bulk-load or scan an
   * emulator (benches), where a slow answer is the emulator's; Clover's own processes keep the defaults.
   */
  readonly callTimeoutMs?: Partial<Record<keyof typeof CALL_TIMEOUT_MS, number>>;
}

/** What every client is built with (see {@link AwsClients.settingsFor}). */
export interface ClientSettings {
  readonly region: string;
  readonly maxAttempts: number;
  readonly retryMode: 'standard';
  readonly requestHandler: {
    readonly connectionTimeout: number;
    readonly requestTimeout: number;
    readonly throwOnRequestTimeout: boolean;
    readonly socketTimeout: number;
  };
  readonly endpoint?: string;
  readonly credentials?: AwsCredentials;
}

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly scheduler: SchedulerClient;
  readonly ses: SESClient;
  /** The dispatcher's CURVE key pair (read at cold start) and the key generator's writes. */
  readonly secretsManager: SecretsManagerClient;
  /** Wakes the monitor Lambda when work starts while it idles (LambdaMonitorInvoker). */
  readonly lambda: LambdaClient;
  /**
   * The settings every client here is built with (endpoint, region, credentials, retries, the
   * service's deadline), for a client of a service only some processes use: the agents' CloudWatch
   * client (`cloudWatchClient`, cloudwatch-client.ts) is built apart so that the Lambda bundles, which
   * publish metrics through their logs, do not carry that SDK.
   */
  settingsFor(service: keyof typeof CALL_TIMEOUT_MS): ClientSettings;
  readonly region: string;
  /** The emulator's endpoint, or undefined for AWS itself. */
  readonly endpoint: string | undefined;
  /** Closes every client's sockets. The clients must not be used afterwards. */
  destroy(): void;
}

/**
 * Every call has a deadline that fails it (issue 9): a hung endpoint — a frozen emulator, a black-holed
 * network path — must lead to the SDK's retries, then to the caller's own fallback (the agent's
 * journal, a retry at the next tick, a documented exit), never to a promise that waits forever.
 *
 * - `connectionTimeout`: TCP connect. A loopback emulator accepts at once or is not there; AWS gets
 *   a little more slack.
 * - `requestTimeout` with `throwOnRequestTimeout`: from sending the request to the response's headers.
 *   Without `throwOnRequestTimeout` the installed @smithy/node-http-handler (4.x) only logs a
 *   warning and keeps waiting. DynamoDB, SQS sends/deletes, Scheduler and SES answer in well under a
 *   second, so a few seconds is already a fault; each attempt gets the full deadline, and the SDK
 *   retries a timed-out attempt (`maxAttempts`).
 * - `socketTimeout`: inactivity while the body streams in, which `requestTimeout` no longer covers.
 * - SQS long polls (`ReceiveMessage` with `WaitTimeSeconds`) legitimately wait up to 20 s: they pass
 *   their own deadline per call, `longPollTimeoutMs(waitSeconds)`, so the client default can stay short.
 */
export const CALL_TIMEOUT_MS = {
  /** DynamoDB: every Clover call is a single-item or small transactional read or write. */
  dynamodb: 5_000,
  /** SQS calls other than long polls (send, delete, visibility, queue admin). */
  sqs: 5_000,
  /** Scheduler, SES and Secrets Manager: control-plane calls, rarer and a little slower. */
  scheduler: 10_000,
  ses: 10_000,
  secretsManager: 10_000,
  /** An asynchronous Invoke only queues the event: it answers at once. */
  lambda: 5_000,
  /** PutMetricData of an agent's minute of metrics. */
  cloudwatch: 5_000,
} as const;
const LOOPBACK_CONNECT_TIMEOUT_MS = 1_000;
const REMOTE_CONNECT_TIMEOUT_MS = 3_000;
/** Slack over a long poll's wait before the call counts as hung. */
const LONG_POLL_SLACK_MS = 10_000;

/**
 * The deadline for one SQS ReceiveMessage that waits `waitSeconds`; pass it as the call's
 * `requestTimeout` (`client.send(command, { requestTimeout })`).
 */
export function longPollTimeoutMs(waitSeconds: number): number {
  return waitSeconds * 1000 + LONG_POLL_SLACK_MS;
}

/**
 * @example
 * const aws = awsClients(); // AWS, or the emulator named by AWS_ENDPOINT_URL
 * const local = awsClients({ endpoint: emulator.endpoint, credentials: emulator.credentials });
 * await local.dynamodb.send(new ListTablesCommand({}));
 * local.destroy();
 */
export function awsClients(config: AwsClientsConfig = {}): AwsClients {
  const env = config.env ?? process.env;
  const endpoint = config.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const region = config.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1';
  const connectionTimeout =
    endpoint !== undefined && isLoopback(endpoint) ? LOOPBACK_CONNECT_TIMEOUT_MS : REMOTE_CONNECT_TIMEOUT_MS;
  const common = (timeoutMs: number, socketTimeout = timeoutMs): ClientSettings => ({
    region,
    maxAttempts: config.maxAttempts ?? 3,
    retryMode: 'standard',
    // Options for the SDK's own NodeHttpHandler (@smithy/node-http-handler), which it builds from them.
    requestHandler: {
      connectionTimeout,
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout,
    },
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  });
  const timeouts = { ...CALL_TIMEOUT_MS, ...config.callTimeoutMs };
  const dynamodb = new DynamoDBClient(common(timeouts.dynamodb));
  // A long poll's socket idles for its whole wait: the inactivity limit must outlast the longest one.
  const sqs = new SQSClient(common(timeouts.sqs, Math.max(timeouts.sqs, longPollTimeoutMs(20))));
  const scheduler = new SchedulerClient(common(timeouts.scheduler));
  const ses = new SESClient(common(timeouts.ses));
  const secretsManager = new SecretsManagerClient(common(timeouts.secretsManager));
  const lambda = new LambdaClient(common(timeouts.lambda));
  return {
    dynamodb,
    sqs,
    scheduler,
    ses,
    secretsManager,
    lambda,
    region,
    endpoint,
    settingsFor: (service) => common(timeouts[service]),
    destroy() {
      for (const client of [dynamodb, sqs, scheduler, ses, secretsManager, lambda]) client.destroy();
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

let shared: AwsClients | undefined;

/**
 * The process-wide clients configured from the environment, built on first use: the default that
 * Lambda handlers and agents hold at module scope, overridable in tests by passing their own.
 */
export function sharedAwsClients(): AwsClients {
  shared ??= awsClients();
  return shared;
}
