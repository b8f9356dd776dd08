import { z } from 'zod';
import { jsonLogger, type LogLevel } from '../core/log';
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
    /**
     * The dispatcher's CURVE key pair for direct ZeroMQ delivery of `delivery: ZMQ` jobs (docs/zeromq.md).
     * Both or neither; without them ZMQ jobs go over SQS. Agents allow-list the public key.
     */
    CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY: CurveKeySchema.optional(),
    CLOVER_DISPATCHER_ZMQ_SECRET_KEY: CurveKeySchema.optional(),
    /** How long the dispatcher waits for an agent's ZeroMQ acknowledgement before the next candidate. */
    CLOVER_ZMQ_DEADLINE_MS: z.coerce.number().int().min(1).max(60_000).optional(),
  })
  .superRefine((env, ctx) => {
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

/** The dispatcher's ZeroMQ settings for controlPlane({ zmq }), or undefined when no key pair is configured. */
export function dispatcherZmq(
  config: FunctionConfig,
): { keys: { publicKey: string; secretKey: string }; deadlineMs?: number } | undefined {
  const publicKey = config.CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY;
  const secretKey = config.CLOVER_DISPATCHER_ZMQ_SECRET_KEY;
  if (!publicKey || !secretKey) return undefined;
  return {
    keys: { publicKey, secretKey },
    ...(config.CLOVER_ZMQ_DEADLINE_MS === undefined ? {} : { deadlineMs: config.CLOVER_ZMQ_DEADLINE_MS }),
  };
}

export function functionLogger(config: FunctionConfig, name: string) {
  return jsonLogger({ level: config.CLOVER_LOG_LEVEL as LogLevel, fields: { fn: name } });
}
