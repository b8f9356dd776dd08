/**
 * The AWS SDK clients Clover uses, built once and shared: a warm Lambda, an agent or a test file
 * keeps one set, with its connection pool, for its whole life (ARCHITECTURE.md, Budgets).
 *
 * Precedence for each setting: the `config` argument, then the environment (`AWS_ENDPOINT_URL`,
 * `AWS_REGION`, `AWS_DEFAULT_REGION`), then the default (`us-east-1`; the SDK's standard credential
 * chain). An endpoint points every client at an emulator (LocalStack, moto).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
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
}

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly scheduler: SchedulerClient;
  readonly ses: SESClient;
  readonly region: string;
  /** The emulator's endpoint, or undefined for AWS itself. */
  readonly endpoint: string | undefined;
  /** Closes every client's sockets. The clients must not be used afterwards. */
  destroy(): void;
}

/**
 * Long polls wait up to 20 s for a message, so SQS sockets may sit idle that long; everything else
 * answers in well under a second, and a stalled request should fail and be retried instead.
 */
const SQS_SOCKET_TIMEOUT_MS = 30_000;
const SOCKET_TIMEOUT_MS = 10_000;
/** A loopback emulator accepts at once or is not there; AWS gets a little more slack. */
const LOOPBACK_CONNECT_TIMEOUT_MS = 1_000;
const REMOTE_CONNECT_TIMEOUT_MS = 3_000;

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
  const common = (socketTimeout: number) => ({
    region,
    maxAttempts: config.maxAttempts ?? 3,
    retryMode: 'standard',
    // Options for the SDK's own NodeHttpHandler (@smithy/node-http-handler), which it builds from them.
    requestHandler: { connectionTimeout, requestTimeout: socketTimeout },
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  });
  const dynamodb = new DynamoDBClient(common(SOCKET_TIMEOUT_MS));
  const sqs = new SQSClient(common(SQS_SOCKET_TIMEOUT_MS));
  const scheduler = new SchedulerClient(common(SOCKET_TIMEOUT_MS));
  const ses = new SESClient(common(SOCKET_TIMEOUT_MS));
  return {
    dynamodb,
    sqs,
    scheduler,
    ses,
    region,
    endpoint,
    destroy() {
      for (const client of [dynamodb, sqs, scheduler, ses]) client.destroy();
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
