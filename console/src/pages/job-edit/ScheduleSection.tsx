/**
 * The schedule: presets to start from, the expression validated as you type against
 * POST /api/schedules/preview (debounced), and the next fires in the job's time zone.
 */
import { useEffect, useId, useMemo, useState } from 'react';
import { ApiError } from '../../api/client';
import { useSchedulePreview } from '../../api/hooks';
import { ErrorBox, Loading } from '../../components/ui';
import { formatInstant } from '../../format';
import { PRESETS, type Preset, presetExpression } from '../../schedule-presets';
import { Field } from './controls';
import type { SectionProps } from './form-state';

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function ScheduleSection({ form, update, fieldError }: SectionProps) {
  const [preset, setPreset] = useState<Preset>('daily');
  const [every, setEvery] = useState(15);
  const [time, setTime] = useState('09:00');
  const ids = useId();
  const zones = useMemo(() => {
    try {
      return Intl.supportedValuesOf('timeZone');
    } catch {
      return ['UTC'];
    }
  }, []);
  const request = useDebounced(
    form.scheduled && form.expression.trim()
      ? {
          expression: form.expression.trim(),
          timezone: form.timezone.trim() || 'UTC',
          mode: form.mode,
          count: 5,
          ...(form.startDate ? { startDate: form.startDate } : {}),
          ...(form.endDate ? { endDate: form.endDate } : {}),
        }
      : undefined,
    300,
  );
  const preview = useSchedulePreview(request);
  const previewError = preview.error instanceof ApiError ? preview.error : undefined;
  const previewField = (name: string) =>
    previewError?.fields.find((f) => f.path === name || f.path.endsWith(`.${name}`))?.message;
  const expressionError =
    previewField('expression') ??
    (previewError && !previewField('timezone') && !previewField('startDate') && !previewField('endDate')
      ? previewError.message
      : undefined) ??
    fieldError('schedule.expression') ??
    fieldError('schedule');
  const zoneError = previewField('timezone') ?? fieldError('schedule.timezone');
  const stale = request?.expression !== form.expression.trim() || preview.isFetching;

  return (
    <fieldset>
      <legend>Schedule</legend>
      <label className="check wide">
        <input
          type="checkbox"
          checked={form.scheduled}
          onChange={(e) => update({ scheduled: e.target.checked })}
        />
        Runs on a schedule (otherwise only when triggered)
      </label>
      {form.scheduled && (
        <>
          <fieldset className="presets wide">
            <legend>Start from a preset</legend>
            <div className="field">
              <label htmlFor={`${ids}-preset`}>Preset</label>
              <select
                id={`${ids}-preset`}
                value={preset}
                onChange={(e) => setPreset(e.target.value as Preset)}
              >
                {(Object.entries(PRESETS) as [Preset, string][]).map(([key, text]) => (
                  <option key={key} value={key}>
                    {text}
                  </option>
                ))}
              </select>
            </div>
            {preset === 'minutes' ? (
              <div className="field">
                <label htmlFor={`${ids}-every`}>Minutes</label>
                <input
                  id={`${ids}-every`}
                  type="number"
                  min={1}
                  max={1440}
                  value={every}
                  onChange={(e) => setEvery(Number(e.target.value))}
                />
              </div>
            ) : (
              <div className="field">
                <label htmlFor={`${ids}-time`}>Time</label>
                <input
                  id={`${ids}-time`}
                  type="time"
                  value={time}
                  onChange={(e) => setTime(e.target.value)}
                />
              </div>
            )}
            <button
              type="button"
              onClick={() => update({ expression: presetExpression(preset, every, time) })}
            >
              Use preset
            </button>
          </fieldset>
          <Field
            label="Expression"
            error={expressionError}
            hint="cron(m h dom mon dow year), rate(5 minutes), at(2026-12-31T23:00:00), or a Unix cron"
            wide
          >
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                spellCheck={false}
                value={form.expression}
                placeholder="cron(0 9 ? * MON-FRI *)"
                onChange={(e) => update({ expression: e.target.value })}
              />
            )}
          </Field>
          <Field label="Time zone" error={zoneError}>
            {(id, describedBy) => (
              <>
                <input
                  id={id}
                  aria-describedby={describedBy}
                  list={`${id}-zones`}
                  value={form.timezone}
                  onChange={(e) => update({ timezone: e.target.value })}
                />
                <datalist id={`${id}-zones`}>
                  {zones.map((z) => (
                    <option key={z} value={z} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
          <Field
            label="Starts"
            error={previewField('startDate') ?? fieldError('schedule.startDate')}
            hint="optional, ISO-8601"
          >
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.startDate}
                onChange={(e) => update({ startDate: e.target.value })}
              />
            )}
          </Field>
          <Field
            label="Ends"
            error={previewField('endDate') ?? fieldError('schedule.endDate')}
            hint="optional, ISO-8601"
          >
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.endDate}
                onChange={(e) => update({ endDate: e.target.value })}
              />
            )}
          </Field>
          <output
            className="preview wide"
            aria-live="polite"
            data-testid="schedule-preview"
            data-stale={stale}
          >
            {!request ? (
              <span className="muted">Type an expression or use a preset to see when it fires.</span>
            ) : preview.data && !previewError ? (
              <>
                <strong className="description">{preview.data.description}</strong>
                {preview.data.awsExpression === null && (
                  <span className="hint"> Only LOCAL mode can fire this expression.</span>
                )}
                <span className="muted small"> Next fires in {request.timezone}:</span>
                <ol className="fires">
                  {preview.data.nextFires.map((fire) => (
                    <li key={fire}>{formatInstant(fire, request.timezone)}</li>
                  ))}
                </ol>
              </>
            ) : previewError ? (
              <span className="muted">Fix the schedule to see its next fires.</span>
            ) : preview.error ? (
              <ErrorBox error={preview.error} />
            ) : (
              <Loading what="the next fires" />
            )}
          </output>
        </>
      )}
    </fieldset>
  );
}
