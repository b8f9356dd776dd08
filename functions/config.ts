import { z } from 'zod';
import { jsonLogger, type LogLevel } from '../core/log';
import { parseOrThrow } from '../core/model';

const EnvSchema = z.object({
  /** Resource prefix of the stage (tables, queues, schedule group), set by the CDK stack or `.clover/local.env`. */
  CLOVER_PREFIX: z.string().min(1).default('clover-dev'),
  CLOVER_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  CLOVER_DISPATCHER_ARN: z.string().optional(),
  CLOVER_SCHEDULER_ROLE_ARN: z.string().optional(),
  CLOVER_FIRES_DLQ_ARN: z.string().optional(),
});

export type FunctionConfig = Readonly<z.output<typeof EnvSchema>>;

/** Reads the Lambda environment once into a typed, frozen object; a bad value names the variable. */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env): FunctionConfig {
  return Object.freeze(parseOrThrow(EnvSchema, env, 'env'));
}

export function functionLogger(config: FunctionConfig, name: string) {
  return jsonLogger({ level: config.CLOVER_LOG_LEVEL as LogLevel, fields: { fn: name } });
}
