/**
 * What the dispatcher Lambda writes to its log per fire, measured: its handler built as a container
 * builds it (`dispatcherHandlerFor`) with Powertools' Logger and Metrics writing to stdout, a Lambda
 * context on every invocation and an X-Ray trace id in the environment, as Lambda gives them, so
 * each line carries every key it carries in AWS. Each fire's run is then claimed and finished by
 * `work`, so the next fire of the job is not an overlap. Counted once at the stack's log level
 * (info) and once at debug, which a sampled invocation writes (POWERTOOLS_LOGGER_SAMPLE_RATE).
 *
 * Lambda's own START/REPORT lines are not the handler's: bench/cost-model.ts adds them where the
 * function keeps them.
 */
import { randomUUID } from 'node:crypto';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { traceIdFromXrayHeader } from '../core/model';
import { readConfig } from '../functions/config';
import { dispatcherHandlerFor } from '../functions/dispatcher/handler';
import { emfMetrics } from '../functions/metrics';
import { type FunctionParts, powertoolsLog } from '../functions/telemetry';
import { captureOutput } from '../test/harness/output';
import type { BenchStack } from './harness';

/** The documented stage's function, as its log lines name it (bench/stage-inventory.ts). */
const FUNCTION_NAME = 'clover-prod-dispatcher';

export interface FireLogBytes {
  /** Bytes (lines and their newlines) per fire at the stack's log level. */
  readonly info: number;
  /** Bytes per fire of an invocation Powertools samples for debug. */
  readonly debug: number;
  readonly fires: number;
}

/**
 * Fires `fires` times at each level through the dispatcher's handler; `fire(i)` is the i-th fire's
 * event and `work(result)` the worker's part (claim, finish) after it.
 */
export async function fireLogBytes(
  stack: Pick<BenchStack, 'clients' | 'prefix'>,
  fires: number,
  fire: (i: number) => { jobId: string; scheduledTime: string },
  work: () => Promise<void>,
): Promise<FireLogBytes> {
  let next = 0;
  const perFire = async (level: 'INFO' | 'DEBUG') => {
    const logger = new PowertoolsLogger({ serviceName: 'dispatcher', logLevel: level });
    const parts: FunctionParts = {
      config: readConfig({ CLOVER_PREFIX: stack.prefix }),
      log: powertoolsLog(logger),
      metrics: emfMetrics({ stage: 'clover-prod', fn: 'dispatcher' }),
      clients: stack.clients,
      traceId: () => traceIdFromXrayHeader(process.env._X_AMZN_TRACE_ID),
    };
    const { plane, invoke } = await dispatcherHandlerFor(parts);
    let bytes = 0;
    try {
      for (let i = 0; i < fires; i += 1) {
        const { lines } = await captureOutput(() =>
          withTraceHeader(async () => {
            logger.addContext(lambdaContext());
            await invoke(fire(next++));
          }),
        );
        bytes += lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
        await work();
      }
    } finally {
      await plane.close();
    }
    return Math.round(bytes / fires);
  };
  const info = await perFire('INFO');
  const debug = await perFire('DEBUG');
  return { info, debug, fires };
}

/** Lambda's `_X_AMZN_TRACE_ID` while `fn` runs: every Powertools line and the run carry the trace id. */
async function withTraceHeader<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.env._X_AMZN_TRACE_ID;
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=${randomUUID().replace(/-/g, '').slice(0, 16)};Sampled=1`;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = before;
  }
}

/** The invocation context Lambda passes (what Powertools' Logger reads of it). */
function lambdaContext() {
  return {
    awsRequestId: randomUUID(),
    functionName: FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION_NAME}`,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 30_000,
  } as unknown as Parameters<PowertoolsLogger['addContext']>[0];
}
