/**
 * Alert email templates: subject, plain text and HTML for one alert or a digest, each linking to the
 * console's run page (or the job page when the alert has no run). Pure functions.
 */
import { type AlertKind, type AlertRecord, isoSeconds } from './model';

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const TITLES: Readonly<Record<AlertKind, string>> = {
  failure: 'failed',
  recovery: 'recovered',
  timeout: 'timed out',
  lost: 'lost its worker',
  no_worker: 'found no worker',
  job_unavailable: 'is unavailable: no live worker can run it',
  misfire: 'missed fires',
  runaway: 'was stopped: a chain fired it too often',
};

export function runLink(consoleUrl: string, runId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
}

export function jobLink(consoleUrl: string, jobId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/jobs/${encodeURIComponent(jobId)}`;
}

export function linkFor(consoleUrl: string, alert: Pick<AlertRecord, 'jobId' | 'runId'>): string {
  return alert.runId ? runLink(consoleUrl, alert.runId) : jobLink(consoleUrl, alert.jobId);
}

/** One line, no control characters: SES refuses multi-line subjects. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "Job nightly failed": the mail subject without its `[Clover]` tag, and the chat messages' title. */
export function alertTitle(alert: Pick<AlertRecord, 'jobId' | 'kind'>): string {
  return `Job ${alert.jobId} ${TITLES[alert.kind]}`;
}

/** "Job nightly: 19 more failure alerts (digest)". */
export function digestTitle(digest: Pick<AlertRecord, 'jobId' | 'kind' | 'digest'>): string {
  const count = digest.digest?.count ?? 0;
  return `Job ${digest.jobId}: ${count} more ${digest.kind} alert${count === 1 ? '' : 's'} (digest)`;
}

export function renderAlertMail(alert: AlertRecord, consoleUrl: string): RenderedMail {
  const link = linkFor(consoleUrl, alert);
  const subject = oneLine(`[Clover] ${alertTitle(alert)}`);
  const when = isoSeconds(alert.createdAt);
  const text = [
    `Job ${alert.jobId} ${TITLES[alert.kind]} (${alert.kind}) at ${when}.`,
    '',
    alert.message,
    '',
    ...(alert.runId ? [`Run: ${alert.runId}`] : []),
    `Details: ${link}`,
    '',
    `Alert ${alert.alertId}`,
  ].join('\n');
  const html = [
    `<p>Job <b>${escapeHtml(alert.jobId)}</b> ${escapeHtml(TITLES[alert.kind])} (${alert.kind}) at ${when}.</p>`,
    `<pre>${escapeHtml(alert.message)}</pre>`,
    `<p><a href="${escapeHtml(link)}">${escapeHtml(alert.runId ? `Run ${alert.runId}` : `Job ${alert.jobId}`)}</a></p>`,
    `<p style="color:#888">Alert ${escapeHtml(alert.alertId)}</p>`,
  ].join('\n');
  return { subject, text, html };
}

export function renderDigestMail(digest: AlertRecord, consoleUrl: string): RenderedMail {
  const folded = digest.digest;
  const count = folded?.count ?? 0;
  const from = isoSeconds(folded?.windowStart ?? digest.createdAt);
  const to = isoSeconds(folded?.windowEnd ?? digest.createdAt);
  const entries = folded?.entries ?? [];
  const more = count - entries.length;
  const subject = oneLine(`[Clover] ${digestTitle(digest)}`);
  const text = [
    `Job ${digest.jobId} raised ${count} more ${digest.kind} alert${count === 1 ? '' : 's'} between ${from} and ${to}, after the one already mailed.`,
    '',
    ...entries.map(
      (e) =>
        `- ${isoSeconds(e.createdAt)} ${oneLine(e.message, 300)}${e.runId ? ` ${runLink(consoleUrl, e.runId)}` : ''}`,
    ),
    ...(more > 0 ? [`- and ${more} more`] : []),
    '',
    `Job: ${jobLink(consoleUrl, digest.jobId)}`,
  ].join('\n');
  const html = [
    `<p>Job <b>${escapeHtml(digest.jobId)}</b> raised ${count} more ${digest.kind} alert${count === 1 ? '' : 's'} between ${from} and ${to}.</p>`,
    '<ul>',
    ...entries.map(
      (e) =>
        `<li>${isoSeconds(e.createdAt)} ${escapeHtml(oneLine(e.message, 300))}${e.runId ? ` <a href="${escapeHtml(runLink(consoleUrl, e.runId))}">run</a>` : ''}</li>`,
    ),
    ...(more > 0 ? [`<li>and ${more} more</li>`] : []),
    '</ul>',
    `<p><a href="${escapeHtml(jobLink(consoleUrl, digest.jobId))}">Job ${escapeHtml(digest.jobId)}</a></p>`,
  ].join('\n');
  return { subject, text, html };
}
