/**
 * Test sugar over the emulator: one emulator per test file (each file runs in its own process),
 * a unique resource prefix per file, clients bound to it, and provisioning on demand.
 *
 * @example
 * import { test } from 'node:test';
 * import { useEmulator } from '../../test/harness';
 *
 * const aws = useEmulator();
 *
 * test('writes a run', async () => {
 *   const stack = await aws.provisioned();       // tables, queues and schedule group, once per file
 *   await aws.clients.dynamodb.send(new PutItemCommand({ TableName: stack.tables.runs, Item: ... }));
 * });
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { type AwsClients, awsClients } from '../../core/adapters/aws-clients';
import { type ProvisionedStack, provision, teardown } from '../../core/adapters/provision';
import { type Emulator, readSentEmails, type SentEmail, startEmulator } from '../../infra/local/emulator';

export interface EmulatorHandle {
  /** This file's resource prefix, `t-` and 8 hex digits. Available at once. */
  readonly prefix: string;
  /** The running emulator. Available inside tests and hooks (after `before`). */
  readonly emulator: Emulator;
  /** SDK clients bound to the emulator. Available inside tests and hooks (after `before`). */
  readonly clients: AwsClients;
  /**
   * Clients for a test's setup (what it arranges before the behaviour under test): the product's
   * clients and retry — the SDK's standard strategy over the transient answers (5xx, throttling,
   * timeouts, resets) that the adapters map to a retryable `unavailable` — with more attempts. A
   * product caller meeting `unavailable` tries again later (the agent's next tick, the monitor's
   * repair); a setup has no later, so it waits out a loaded emulator's passing errors here instead of
   * failing the test. What a test asserts on keeps `clients` and the product's own attempts.
   */
  readonly setupClients: AwsClients;
  /** Provisions this file's stack on first call; later calls return the same promise. */
  provisioned(): Promise<ProvisionedStack>;
  /** The email the emulator's SES has accepted, oldest first (see docs/emulators.md). */
  sentEmails(): Promise<SentEmail[]>;
}

/**
 * SDK attempts per setup call, against the product's 3: the standard strategy waits a random part of
 * 0.2, 0.4, … 12.8 s between them, so a setup call rides out up to ~25 s of an emulator's 5xx.
 */
const SETUP_ATTEMPTS = 8;

/** A resource prefix no other test file will draw: `t-` and 32 random bits in hex. */
export function uniquePrefix(): string {
  return `t-${randomBytes(4).toString('hex')}`;
}

/**
 * Registers `before` and `after` hooks in the calling test file: start the emulator (moto, LocalStack
 * or `AWS_ENDPOINT_URL`; infra/local/emulator.ts) before the first test, stop it after the last.
 * On an emulator this file did not start, `after` tears the file's resources down instead.
 */
export function useEmulator(): EmulatorHandle {
  const prefix = uniquePrefix();
  let emulator: Emulator | undefined;
  let clients: AwsClients | undefined;
  let setupClients: AwsClients | undefined;
  let stack: Promise<ProvisionedStack> | undefined;

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useEmulator: ${what} is available only inside tests and hooks`);
    return value;
  };

  before(async () => {
    // A failure bound for a loaded machine (moto_server's Python start has taken over 20 s there).
    emulator = await startEmulator({ startTimeoutMs: 120_000 });
    const { endpoint, region, credentials } = emulator;
    clients = awsClients({ endpoint, region, credentials });
    setupClients = awsClients({ endpoint, region, credentials, maxAttempts: SETUP_ATTEMPTS });
  });

  after(async () => {
    try {
      if (clients !== undefined && stack !== undefined && emulator?.owned === false) {
        await teardown(clients, prefix);
      }
    } finally {
      clients?.destroy();
      setupClients?.destroy();
      await emulator?.stop();
    }
  });

  return {
    prefix,
    get emulator() {
      return started(emulator, 'emulator');
    },
    get clients() {
      return started(clients, 'clients');
    },
    get setupClients() {
      return started(setupClients, 'setupClients');
    },
    provisioned() {
      stack ??= provision(started(setupClients, 'setupClients'), prefix);
      return stack;
    },
    sentEmails() {
      return readSentEmails(started(emulator, 'emulator'));
    },
  };
}
