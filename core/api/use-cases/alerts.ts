import { randomUUID } from 'node:crypto';
import { CloverError, NotFoundError, ValidationError } from '../../errors';
import { type AlertRecord, isoSeconds, MAX_SILENCES, type Silence } from '../../model';
import { type AlertListStatus, MAX_SILENCE_DAYS, type Page, type SilenceSpec } from '../schemas';
import { DAY_MS, type PageInput, type Principal, UseCases, type WindowInput } from './shared';

/** Alerts (listing and taking them) and silences. */
export class AlertUseCases extends UseCases {
  async list(
    query: PageInput &
      WindowInput & {
        jobId?: string | undefined;
        kind?: AlertRecord['kind'] | undefined;
        status?: AlertListStatus | undefined;
      },
  ): Promise<Page<AlertRecord>> {
    const { limit, cursor, from, to, ...filter } = query;
    return this.windowedPage(
      query,
      { list: 'alerts', from, to, ...filter },
      (window, visit, options) => this.deps.reads.walkAlerts({ ...filter, ...window }, visit, options),
      (a: AlertRecord) => a,
      filter.kind || filter.status ? Math.max(limit, 100) : limit,
    );
  }

  /** Takes an alert, once (a second acknowledgement is 409 ALREADY_ACKNOWLEDGED and changes nothing). */
  async acknowledge(principal: Principal, alertId: string, comment?: string): Promise<AlertRecord> {
    const acknowledgement = {
      at: this.deps.clock.now(),
      by: principal.subject,
      ...(comment === undefined ? {} : { comment }),
    };
    let alert: AlertRecord;
    try {
      alert = await this.deps.alerts.acknowledge(alertId, acknowledgement);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new CloverError('not_found', `alert ${JSON.stringify(alertId)} does not exist`, {
          details: { field: 'alertId' },
        });
      }
      throw error;
    }
    const { kind, jobId, status } = alert;
    await this.record(principal, 'alert.acknowledge', `alert:${alertId}`, undefined, {
      alertId,
      kind,
      jobId,
      status,
      acknowledgement,
    });
    return alert;
  }

  async listSilences(): Promise<Page<Silence>> {
    const now = this.deps.clock.now();
    const active = (await this.deps.alerts.silences()).filter((s) => s.endsAt > now);
    return { items: active.sort((a, b) => a.endsAt - b.endsAt || a.silenceId.localeCompare(b.silenceId)) };
  }

  /** Checked whole before anything is written: an end in the past, no scope, an unknown job, too many. */
  async createSilence(principal: Principal, spec: SilenceSpec): Promise<Silence> {
    const now = this.deps.clock.now();
    const issues: { field: string; reason: string }[] = [];
    if (spec.jobId === undefined && spec.kind === undefined) {
      issues.push({ field: 'jobId', reason: 'give jobId, kind or both: a silence of everything is not one' });
    }
    if (spec.endsAt <= now) {
      issues.push({ field: 'endsAt', reason: `must be in the future (it is now ${isoSeconds(now)})` });
    } else if (spec.endsAt > now + MAX_SILENCE_DAYS * DAY_MS) {
      issues.push({ field: 'endsAt', reason: `must be at most ${MAX_SILENCE_DAYS} days ahead` });
    }
    if (spec.jobId !== undefined && (await this.deps.jobs.get(spec.jobId)) === null) {
      issues.push({
        field: 'jobId',
        reason: `names job ${JSON.stringify(spec.jobId)}, which does not exist`,
      });
    }
    if (issues.length) throw new ValidationError(issues);
    const active = (await this.deps.alerts.silences()).filter((s) => s.endsAt > now);
    if (active.length >= MAX_SILENCES) {
      throw ValidationError.field(
        '(body)',
        `at most ${MAX_SILENCES} silences may be in force; end some first`,
      );
    }
    const silence: Silence = {
      silenceId: `s-${randomUUID().slice(0, 8)}`,
      ...(spec.jobId === undefined ? {} : { jobId: spec.jobId }),
      ...(spec.kind === undefined ? {} : { kind: spec.kind }),
      createdAt: now,
      endsAt: spec.endsAt,
      createdBy: principal.subject,
      ...(spec.comment === undefined ? {} : { comment: spec.comment }),
    };
    await this.deps.alerts.addSilence(silence, now);
    await this.record(principal, 'silence.create', `silence:${silence.silenceId}`, undefined, silence);
    return silence;
  }

  async deleteSilence(principal: Principal, silenceId: string): Promise<void> {
    const before = (await this.deps.alerts.silences()).find((s) => s.silenceId === silenceId);
    if (!before || !(await this.deps.alerts.removeSilence(silenceId))) {
      throw new NotFoundError('silence', silenceId);
    }
    await this.record(principal, 'silence.delete', `silence:${silenceId}`, before, undefined);
  }
}
