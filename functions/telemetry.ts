/**
 * The Lambdas' logs, metrics and traces, from Powertools for AWS Lambda (TypeScript): its Logger
 * (structured JSON with the invocation's request id, cold start, X-Ray trace id and debug sampling),
 * Metrics (EMF; functions/metrics.ts keeps Clover's names) and Tracer (X-Ray subsegments for the
 * handler and every AWS SDK call; the stack turns active tracing on, infra/constructs/node-function.ts).
 *
 * Outside Lambda — the local runtime, the tests — none of this is built: the handler factories take
 * the core `Logger` port and `EmfMetrics`, and Tracer switches itself off where `AWS_EXECUTION_ENV` is
 * not set, so nothing is sent and nothing fails.
 *
 * @example
 * export const handler = lambdaEntry('monitor', async ({ config, log, metrics, clients }) =>
 *   makeMonitorHandler({ monitor: buildMonitor(config, clients, log), log, metrics, loopSeconds: 5 }),
 * );
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { type AwsClients, awsClients } from '../core/adapters/aws-clients';
import type { Logger, LogLevel } from '../core/log';
import { type TraceId, traceIdFromXrayHeader } from '../core/model';
import type { Clock } from '../core/ports';
import { type FunctionConfig, readConfig } from './config';
import { type EmfMetrics, emfMetrics } from './metrics';

/** The part of Lambda's invocation context the Lambdas read (Powertools reads the rest). */
export interface LambdaContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
  readonly invokedFunctionArn?: string;
  readonly memoryLimitInMB?: string;
  readonly functionVersion?: string;
  getRemainingTimeInMillis?(): number;
}

/** What one function's container builds once: its configuration, telemetry and AWS clients. */
export interface FunctionTelemetry {
  readonly config: FunctionConfig;
  /** The core Logger port over Powertools' Logger: every line carries the current invocation's keys. */
  readonly log: Logger;
  readonly metrics: EmfMetrics;
  readonly tracer: Tracer;
  /** AWS clients, each traced (a subsegment per call) when tracing is on. */
  readonly clients: AwsClients;
  /** The invocation's X-Ray trace id, for the runs it makes (controlPlane's `traceId`): one trace per fire. */
  readonly traceId: () => TraceId | undefined;
}

/**
 * The core `Logger` port over a Powertools Logger. A child keeps its fields itself and logs through
 * the one root logger, so every line has the keys `addContext` set for the invocation in progress
 * (request id, cold start) — a child made at cold start never carries the first invocation's id.
 */
export function powertoolsLog(root: PowertoolsLogger, scope: Readonly<Record<string, unknown>> = {}): Logger {
  return {
    log(level, message, fields) {
      root[level](message, { ...scope, ...fields });
    },
    child(fields) {
      return powertoolsLog(root, { ...scope, ...fields });
    },
  };
}

/** Builds the function's telemetry; `fn` is the service name on logs, traces and Powertools' metric warnings. */
export function functionTelemetry(
  fn: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
) {
  const config = readConfig(env);
  const logger = new PowertoolsLogger({
    serviceName: fn,
    logLevel: config.CLOVER_LOG_LEVEL.toUpperCase() as Uppercase<LogLevel>,
  });
  const tracer = new Tracer({ serviceName: fn });
  const clients = awsClients();
  for (const client of [
    clients.dynamodb,
    clients.sqs,
    clients.scheduler,
    clients.ses,
    clients.secretsManager,
  ]) {
    tracer.captureAWSv3Client(client);
  }
  return {
    config,
    logger,
    log: powertoolsLog(logger),
    metrics: emfMetrics({ stage: config.CLOVER_PREFIX, fn }),
    tracer,
    clients,
    // Lambda sets the variable per invocation when tracing is active (and Tracer reads it there too).
    traceId: () => traceIdFromXrayHeader(process.env._X_AMZN_TRACE_ID),
  } satisfies FunctionTelemetry & { logger: PowertoolsLogger };
}

/** What a function's wiring reads from its container (`monitorHandlerFor`, `dispatcherHandlerFor`): a test or bench gives its own. */
export type FunctionParts = Omit<FunctionTelemetry, 'tracer'>;

/** The control plane options every function passes (its clients, stage, logger and trace), with a test's clock. */
export function planeOptionsOf({ config, log, clients, traceId }: FunctionParts, clock?: Clock) {
  return { clients, prefix: config.CLOVER_PREFIX, log, traceId, ...(clock ? { clock } : {}) };
}

export type LambdaHandler<E, R> = (event: E, context?: LambdaContext) => Promise<R>;

/**
 * A Lambda entry point: telemetry and the handler are built on the first invocation of a container
 * (a failed build — a bad variable, an unreadable secret — fails that invocation and is tried again by
 * the next), then every invocation runs with Powertools' per-invocation steps: the debug sampling
 * decision, the Lambda context on the logger, and an X-Ray subsegment `## <fn>` with the cold-start and
 * service annotations and the error, if any, as metadata.
 */
export function lambdaEntry<E, R>(
  fn: string,
  build: (telemetry: FunctionTelemetry) => LambdaHandler<E, R> | Promise<LambdaHandler<E, R>>,
): LambdaHandler<E, R> & { reset(): void } {
  let telemetry: ReturnType<typeof functionTelemetry> | undefined;
  let built: Promise<LambdaHandler<E, R>> | undefined;
  const entry = async (event: E, context?: LambdaContext): Promise<R> => {
    telemetry ??= functionTelemetry(fn);
    const { logger, tracer } = telemetry;
    logger.refreshSampleRateCalculation();
    // Powertools reads only the context's fields; the Lambda context type comes from @types/aws-lambda.
    if (context) logger.addContext(context as Parameters<PowertoolsLogger['addContext']>[0]);
    const facade = tracer.getSegment();
    const segment = facade?.addNewSubsegment(`## ${fn}`);
    if (segment) tracer.setSegment(segment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      const current = telemetry;
      built ??= Promise.resolve()
        .then(() => build(current))
        .catch((error: unknown) => {
          built = undefined;
          throw error;
        });
      return await (await built)(event, context);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      segment?.close();
      if (facade) tracer.setSegment(facade);
    }
  };
  return Object.assign(entry, {
    /** Forgets the built handler (not the telemetry): the next invocation builds it again. */
    reset() {
      built = undefined;
    },
  });
}
