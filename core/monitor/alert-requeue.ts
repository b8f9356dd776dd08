import { ALERT_UNQUEUED } from '../alerts';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/** Queues again the alerts whose queue send failed when they were raised (RecordingAlertHook). */
export async function requeueAlerts(deps: MonitorDeps, report: SweepReport): Promise<void> {
  const queue = deps.alertQueue;
  if (!queue) return;
  for (const alertId of await deps.alertStore.flagged(ALERT_UNQUEUED)) {
    await queue.send({ alertId });
    // Unflag after the send: a crash between them sends twice, which the notifier dedupes by record.
    if (await deps.alertStore.unflag(ALERT_UNQUEUED, alertId)) report.alertsRequeued += 1;
    deps.log.log('info', 'alert queued again after its first send failed', { alertId });
  }
}
