/**
 * The schedule: presets to start from, the expression validated as you type against
 * POST /api/schedules/preview (debounced), and the next fires in the job's time zone.
 */
import { useEffect, useMemo, useState } from 'react';
import { ApiError } from '../../api/client';
import { useSchedulePreview } from '../../api/hooks';
import { ErrorBox, Loading } from '../../components/ui';
import { formatInstant } from '../../format';
import { PRESETS, type Preset, presetExpression } from '../../schedule-presets';
import { binder, Check, Field, Select, TextField } from './controls';
import type { SectionProps } from './form-state';

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function ScheduleSection(props: SectionProps) {
  const { form, update, fieldError } = props;
  const bind = binder(props);
  const [preset, setPreset] = useState<Preset>('daily');
  const [every, setEvery] = useState(15);
  const [time, setTime] = useState('09:00');
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
  /** A start or end date, its error the preview's or else the spec's. */
  const dateBound = (field: 'startDate' | 'endDate') => {
    const bound = bind(field, `schedule.${field}`);
    return { ...bound, error: previewField(field) ?? bound.error };
  };
  const stale = request?.expression !== form.expression.trim() || preview.isFetching;

  return (
    <fieldset>
      <legend>Schedule</legend>
      <Check
        label="Runs on a schedule (otherwise only when triggered)"
        checked={form.scheduled}
        wide
        onChange={(scheduled) => update({ scheduled })}
      />
      {form.scheduled && (
        <>
          <fieldset className="presets wide">
            <legend>Start from a preset</legend>
            <Select label="Preset" value={preset} options={PRESETS} onChange={setPreset} />
            {preset === 'minutes' ? (
              <Field label="Minutes">
                {(id) => (
                  <input
                    id={id}
                    type="number"
                    min={1}
                    max={1440}
                    value={every}
                    onChange={(e) => setEvery(Number(e.target.value))}
                  />
                )}
              </Field>
            ) : (
              <Field label="Time">
                {(id) => <input id={id} type="time" value={time} onChange={(e) => setTime(e.target.value)} />}
              </Field>
            )}
            <button
              type="button"
              onClick={() => update({ expression: presetExpression(preset, every, time) })}
            >
              Use preset
            </button>
          </fieldset>
          <TextField
            label="Expression"
            value={form.expression}
            error={expressionError}
            hint="cron(m h dom mon dow year), rate(5 minutes), at(2026-12-31T23:00:00), or a Unix cron"
            wide
            spellCheck={false}
            placeholder="cron(0 9 ? * MON-FRI *)"
            onChange={(expression) => update({ expression })}
          />
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
          <TextField label="Starts" hint="optional, ISO-8601" {...dateBound('startDate')} />
          <TextField label="Ends" hint="optional, ISO-8601" {...dateBound('endDate')} />
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
