import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { z } from 'zod';
import { controlPlane } from '../../core/adapters/control-plane';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { parseAlertMessage } from '../../core/adapters/sqs-alert-queue';
import type { Logger } from '../../core/log';
import { parseOrThrow } from '../../core/model';
import { Notifier } from '../../core/notify';
import { type EmfMetrics, noMetrics } from '../metrics';
import { lambdaEntry } from '../telemetry';

/** The part of an SQS event record the notifier reads. */
export interface SqsEventRecord {
  readonly messageId: string;
  readonly body: string;
  readonly attributes?: { readonly ApproximateReceiveCount?: string };
}

export interface SqsEvent {
  readonly Records: readonly SqsEventRecord[];
}

/** The SQS event source's partial batch response: the messages to deliver again. */
export interface SqsBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export interface NotifierHandlerDeps {
  readonly notifier: Pick<Notifier, 'process'>;
  readonly log: Logger;
  /** Alerts sent and send failures in EMF (functions/metrics.ts; the send-failure alarm). @default noMetrics */
  readonly metrics?: EmfMetrics;
}

/**
 * The notifier Lambda, consuming the alerts queue (event source mapping with
 * `ReportBatchItemFailures`), through Powertools' Batch utility. Each message names an alert record;
 * the Notifier mails it, folds it into a digest or suppresses it, and records the outcome. A send that
 * failed — or any error — is reported as a batch item failure, so SQS delivers it again after the
 * visibility timeout and, after `maxReceiveCount` receives, moves it to `alerts-dlq`. A malformed body
 * is reported too: it can never succeed, and the dead-letter queue is where a person looks.
 *
 * Records are processed one after another (a job's silence window and digest are read and written
 * per alert), and a batch whose every record failed is answered like any other rather than thrown,
 * so each message keeps its own receive count.
 */
export function makeNotifierHandler(deps: NotifierHandlerDeps) {
  const metrics = deps.metrics ?? noMetrics;
  return async (event: SqsEvent): Promise<SqsBatchResponse> => {
    const { log } = deps;
    let sent = 0;
    let failed = 0;
    const processor = new BatchProcessor(EventType.SQS);
    const response = await processPartialResponse(
      { Records: [...event.Records] },
      async (record: SqsEventRecord) => {
        try {
          const message = parseAlertMessage(record.body);
          const redelivered = Number(record.attributes?.ApproximateReceiveCount ?? '1') > 1;
          const result = await deps.notifier.process(message, { redelivered });
          if (result.outcome === 'sent') sent += 1;
          if (result.outcome === 'failed' || result.outcome === 'gave_up') failed += 1;
          if (result.retry) throw new RetryLaterError(record.messageId);
        } catch (error) {
          if (!(error instanceof RetryLaterError)) {
            log.log('error', 'alert message failed', { messageId: record.messageId, error });
          }
          throw error;
        }
      },
      processor,
      { processInParallel: false, throwOnFullBatchFailure: false },
    );
    metrics.put('alertsSent', sent);
    metrics.put('alertSendFailures', failed);
    metrics.flush();
    return {
      batchItemFailures: response.batchItemFailures.map(({ itemIdentifier }) => ({ itemIdentifier })),
    };
  };
}

/** A record the Notifier asked to see again (a failed send it will retry): a batch item failure, not an error to log. */
class RetryLaterError extends Error {
  constructor(messageId: string) {
    super(`alert message ${messageId}: send failed; SQS delivers it again`);
  }
}

/** The notifier's tuning, read the same way by the Lambda and by the local runtime (`npm start`). */
export const NotifierTuningEnvSchema = z.object({
  /** Silence window per job and alert kind, in seconds. @default 900 */
  CLOVER_ALERT_WINDOW_SECONDS: z.coerce.number().int().min(0).max(86_400).default(900),
  /** Send attempts before an alert stays FAILED. @default 5 */
  CLOVER_ALERT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
});

const NotifierEnvSchema = NotifierTuningEnvSchema.extend({
  /** Verified SES sender. */
  CLOVER_ALERT_FROM: z.string().min(3),
  /** The console's base URL, for run links. */
  CLOVER_CONSOLE_URL: z.string().url(),
  CLOVER_SES_CONFIGURATION_SET: z.string().optional(),
});

/** Built once per warm container (functions/telemetry.ts). */
export const handler = lambdaEntry<SqsEvent, SqsBatchResponse>(
  'notifier',
  ({ config, log, metrics, clients }) => {
    const env = Object.freeze(parseOrThrow(NotifierEnvSchema, process.env, 'env'));
    const plane = controlPlane({
      clients,
      prefix: config.CLOVER_PREFIX,
      log,
      endpointPolicy: { allowLoopback: config.CLOVER_WEBHOOK_ALLOW_LOOPBACK === '1' },
    });
    const notifier = new Notifier({
      alerts: plane.alertStore,
      queue: plane.alertQueue,
      contacts: plane.contacts,
      jobs: plane.jobs,
      mailer: new SesMailer({
        client: clients.ses,
        ...(env.CLOVER_SES_CONFIGURATION_SET ? { configurationSet: env.CLOVER_SES_CONFIGURATION_SET } : {}),
      }),
      channels: plane.channelSender,
      clock: plane.clock,
      log,
      config: {
        from: env.CLOVER_ALERT_FROM,
        consoleUrl: env.CLOVER_CONSOLE_URL,
        windowMs: env.CLOVER_ALERT_WINDOW_SECONDS * 1000,
        maxAttempts: env.CLOVER_ALERT_MAX_ATTEMPTS,
      },
    });
    const invoke = makeNotifierHandler({ notifier, log, metrics });
    return (event) => invoke(event);
  },
);
