import { z } from 'zod';
import type { CurveKeyPair } from '../core/adapters/zmq-protocol';
import { parseOrThrow } from '../core/model';

const CurveKeySchema = z
  .string()
  .regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, 'must be a 40-character Z85 CURVE key');

const EnvSchema = z
  .object({
    /** Resource prefix of the stage (tables, queues, schedule group), set by the CDK stack or `.clover/local.env`. */
    CLOVER_PREFIX: z.string().min(1).default('clover-dev'),
    CLOVER_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    CLOVER_DISPATCHER_ARN: z.string().optional(),
    CLOVER_SCHEDULER_ROLE_ARN: z.string().optional(),
    CLOVER_FIRES_DLQ_ARN: z.string().optional(),
    /** The monitor Lambda to wake when a run is put in flight while it idles (core/monitor/watch.ts); set by the CDK stack. */
    CLOVER_MONITOR_FUNCTION: z.string().min(1).optional(),
    /**
     * The dispatcher's CURVE key pair for direct ZeroMQ delivery of `delivery: ZMQ` jobs (docs/zeromq.md).
     * Both or neither; without them ZMQ jobs go over SQS. Agents allow-list the public key.
     */
    CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY: CurveKeySchema.optional(),
    CLOVER_DISPATCHER_ZMQ_SECRET_KEY: CurveKeySchema.optional(),
    /**
     * In AWS: the Secrets Manager secret holding the key pair (JSON publicKey, secretKey), read once
     * per cold start instead of the two variables above, so no key sits in the environment.
     */
    CLOVER_DISPATCHER_ZMQ_SECRET_ARN: z.string().min(1).optional(),
    /** How long the dispatcher waits for an agent's ZeroMQ acknowledgement before the next candidate. */
    CLOVER_ZMQ_DEADLINE_MS: z.coerce.number().int().min(1).max(60_000).optional(),
    /**
     * `1` lets contacts' webhook and chat channels use http:// and loopback addresses (the local
     * product and tests, whose receivers listen on 127.0.0.1). The CDK stack never sets it.
     */
    CLOVER_WEBHOOK_ALLOW_LOOPBACK: z.enum(['0', '1']).default('0'),
  })
  .superRefine((env, ctx) => {
    if (
      env.CLOVER_DISPATCHER_ZMQ_SECRET_ARN !== undefined &&
      env.CLOVER_DISPATCHER_ZMQ_SECRET_KEY !== undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['CLOVER_DISPATCHER_ZMQ_SECRET_ARN'],
        message: 'is set together with CLOVER_DISPATCHER_ZMQ_SECRET_KEY: give the key pair one way only',
      });
    }
    if (
      (env.CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY === undefined) !==
      (env.CLOVER_DISPATCHER_ZMQ_SECRET_KEY === undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [
          env.CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY === undefined
            ? 'CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY'
            : 'CLOVER_DISPATCHER_ZMQ_SECRET_KEY',
        ],
        message: 'is required with the other half of the ZeroMQ key pair',
      });
    }
  });

export type FunctionConfig = Readonly<z.output<typeof EnvSchema>>;

/** Reads the Lambda environment once into a typed, frozen object; a bad value names the variable. */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env): FunctionConfig {
  return Object.freeze(parseOrThrow(EnvSchema, env, 'env'));
}

export interface DispatcherZmq {
  readonly keys: CurveKeyPair;
  readonly deadlineMs?: number;
}

/**
 * The dispatcher's ZeroMQ settings for controlPlane({ zmq }), or undefined when no key pair is
 * configured: from the secret named by CLOVER_DISPATCHER_ZMQ_SECRET_ARN (read with `readSecret`),
 * else from the two key variables (the local runtime).
 */
export async function dispatcherZmq(
  config: FunctionConfig,
  readSecret: (secretArn: string) => Promise<CurveKeyPair>,
): Promise<DispatcherZmq | undefined> {
  const deadline =
    config.CLOVER_ZMQ_DEADLINE_MS === undefined ? {} : { deadlineMs: config.CLOVER_ZMQ_DEADLINE_MS };
  if (config.CLOVER_DISPATCHER_ZMQ_SECRET_ARN) {
    return { keys: await readSecret(config.CLOVER_DISPATCHER_ZMQ_SECRET_ARN), ...deadline };
  }
  const publicKey = config.CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY;
  const secretKey = config.CLOVER_DISPATCHER_ZMQ_SECRET_KEY;
  if (!publicKey || !secretKey) return undefined;
  return { keys: { publicKey, secretKey }, ...deadline };
}

/**
 * What a function that creates or repairs schedules passes to controlPlane: the deployed dispatcher,
 * the stage's scheduler role and fires-dlq, each when the stack set it (the emulator's placeholders
 * otherwise).
 */
export function scheduleTargets(config: FunctionConfig) {
  return {
    ...(config.CLOVER_DISPATCHER_ARN ? { dispatcherArn: config.CLOVER_DISPATCHER_ARN } : {}),
    ...(config.CLOVER_SCHEDULER_ROLE_ARN ? { schedulerRoleArn: config.CLOVER_SCHEDULER_ROLE_ARN } : {}),
    ...(config.CLOVER_FIRES_DLQ_ARN ? { firesDeadLetterArn: config.CLOVER_FIRES_DLQ_ARN } : {}),
  };
}

/** controlPlane's `monitor` option from the environment: wake the monitor Lambda when one is named. */
export function monitorOf(
  config: FunctionConfig,
): { monitor: { functionName: string } } | Record<string, never> {
  return config.CLOVER_MONITOR_FUNCTION ? { monitor: { functionName: config.CLOVER_MONITOR_FUNCTION } } : {};
}
