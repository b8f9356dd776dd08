import { randomUUID } from 'node:crypto';
import type { Logger } from './log';
import { type AlertRecord, isoSeconds } from './model';
import type { AlertEvent, AlertHook, AlertQueue, AlertStore } from './ports';

export interface RecordingAlertHookDeps {
  readonly alerts: AlertStore;
  readonly queue: AlertQueue;
  readonly log: Logger;
}

/**
 * The standing condition under which the alert store flags alert ids whose queue send failed; the
 * monitor's sweep queues them again (Monitor, step 7).
 */
export const ALERT_UNQUEUED = 'alert_unqueued';

/** A new alert id: the instant (sortable), the kind and a random suffix. */
export function newAlertId(kind: string, at: number): string {
  return `${isoSeconds(at).replace(/[-:]/g, '')}-${kind}-${randomUUID().slice(0, 8)}`;
}

/** The PENDING record of a freshly raised alert. */
export function alertRecordFor(event: AlertEvent, alertId = newAlertId(event.kind, event.at)): AlertRecord {
  return {
    alertId,
    kind: event.kind,
    jobId: event.jobId,
    ...(event.runId ? { runId: event.runId } : {}),
    message: event.message.slice(0, 4096),
    createdAt: event.at,
    updatedAt: event.at,
    status: 'PENDING',
    attempts: 0,
    recipients: [],
  };
}

/**
 * The deployed AlertHook: every alert becomes a PENDING record in the alerts table (invariant 5:
 * the console can show it) and a message on the alerts queue for the notifier. Two requests per
 * alert. Raising never throws into the fire or sweep path that raised it: a failure is logged at
 * `error` with the alert. A record that was written but not queued is flagged ALERT_UNQUEUED, and the
 * monitor's next sweep queues it again: it is mailed late, never left PENDING (if even the flag
 * cannot be written, the PENDING record is still where the console shows it).
 *
 * @example
 * const hook = new RecordingAlertHook({ alerts, queue, log });
 * await hook.raise({ kind: 'lost', jobId, runId, message: 'worker w1 lost its lease', at: Date.now() });
 */
export class RecordingAlertHook implements AlertHook {
  constructor(private readonly deps: RecordingAlertHookDeps) {}

  async raise(event: AlertEvent): Promise<void> {
    const record = alertRecordFor(event);
    const log = this.deps.log.child({ alertId: record.alertId, jobId: event.jobId, runId: event.runId });
    try {
      await this.deps.alerts.create(record);
    } catch (error) {
      log.log('error', 'alert could not be recorded', {
        kind: event.kind,
        alertMessage: event.message,
        error,
      });
      return;
    }
    try {
      await this.deps.queue.send({ alertId: record.alertId });
      log.log('info', 'alert raised', { kind: event.kind });
    } catch (error) {
      try {
        await this.deps.alerts.flag(ALERT_UNQUEUED, record.alertId);
        log.log('warn', 'alert recorded but not queued; the monitor will queue it', {
          kind: event.kind,
          error,
        });
      } catch (flagError) {
        log.log('error', 'alert recorded but neither queued nor flagged; it stays PENDING', {
          kind: event.kind,
          error,
          flagError,
        });
      }
    }
  }
}
