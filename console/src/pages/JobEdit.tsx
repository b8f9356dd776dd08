/**
 * Create or edit a job: every policy of the spec, a schedule builder that validates as you type
 * (POST /api/schedules/preview) and shows the next fires in the job's time zone, the API's field
 * errors inline, and version conflicts as such. The form is a draft in sessionStorage, so a lost
 * session or a reload does not lose it.
 */
import { type FormEvent, type ReactNode, useEffect, useId, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { useCan, useContacts, useJob, useSaveJob, useSchedulePreview, useWorkers } from '../api/hooks';
import type {
  ConcurrencyPolicy,
  DeliveryKind,
  JobMode,
  JobSpec,
  JobSpecInput,
  JobView,
  MisfirePolicy,
  RoutingStrategy,
  WaitForMode,
} from '../api/types';
import { dropDraft, hasDraft, useDraft } from '../auth/drafts';
import { ErrorBox, Loading, QueryView } from '../components/ui';
import { countOf, formatInstant } from '../format';
import { PRESETS, type Preset, presetExpression } from '../schedule-presets';

// Exhaustive over the core's unions: adding a strategy or policy in core fails the console's typecheck
// until it is offered here too.
const MODES: Readonly<Record<JobMode, string>> = {
  REMOTE: 'REMOTE — fired by EventBridge Scheduler',
  LOCAL: "LOCAL — fired by the agents' own timers",
};
const DELIVERIES: Readonly<Record<DeliveryKind, string>> = {
  SQS: 'SQS queue',
  ZMQ: 'ZeroMQ direct (SQS fallback)',
};
const ROUTINGS: Readonly<Record<RoutingStrategy, string>> = {
  ROUND_ROBIN: 'Round robin',
  RANDOM: 'Random',
  LEAST_LOADED: 'Least loaded',
  CONSISTENT_HASH: 'Consistent hash (sticky)',
  FIRST: 'First by priority',
  FAILOVER: 'Failover in priority order',
  BROADCAST: 'Broadcast to every worker',
  ANY: 'Any (pool queue)',
};
const CONCURRENCY: Readonly<Record<ConcurrencyPolicy, string>> = {
  FORBID: 'Forbid — skip a fire while a run is active',
  QUEUE: 'Queue — wait for the active run',
  REPLACE: 'Replace — cancel the active run',
  ALLOW: 'Allow — runs may overlap',
};
const WAIT_FOR: Readonly<Record<WaitForMode, string>> = {
  ANY: 'Any — each upstream outcome fires it',
  ALL: 'All — once per chain, after every upstream',
};
const MISFIRES: Readonly<Record<MisfirePolicy, string>> = {
  FIRE_ONCE_NOW: 'Fire once now',
  SKIP: 'Skip missed fires',
};

interface FormState {
  version?: number;
  /** The job's `env`, which the form does not edit: kept as it was, so saving from here does not drop it. */
  env?: Readonly<Record<string, string>>;
  jobId: string;
  description: string;
  handler: string;
  payload: string;
  scheduled: boolean;
  expression: string;
  timezone: string;
  startDate: string;
  endDate: string;
  mode: JobMode;
  delivery: DeliveryKind;
  pool: string;
  labels: string;
  workerIds: string;
  routing: RoutingStrategy;
  concurrency: ConcurrencyPolicy;
  maxQueued: string;
  misfire: MisfirePolicy;
  misfireWindowSeconds: string;
  maxAttempts: string;
  backoffSeconds: string;
  maxBackoffSeconds: string;
  timeoutSeconds: string;
  recoverOnWorkerLoss: boolean;
  contacts: string[];
  group: string;
  paused: boolean;
  /** One upstream a line: `JOB` or `JOB ON` (ON: SUCCEEDED, FAILED, COMPLETED). */
  after: string;
  waitFor: WaitForMode;
}

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The defaults of core's JobSpecSchema, as the form shows them. */
function blankForm(): FormState {
  return {
    jobId: '',
    description: '',
    handler: '',
    payload: 'null',
    scheduled: true,
    expression: '',
    timezone: localZone(),
    startDate: '',
    endDate: '',
    mode: 'REMOTE',
    delivery: 'SQS',
    pool: 'default',
    labels: '',
    workerIds: '',
    routing: 'ROUND_ROBIN',
    concurrency: 'FORBID',
    maxQueued: '10',
    misfire: 'FIRE_ONCE_NOW',
    misfireWindowSeconds: '3600',
    maxAttempts: '1',
    backoffSeconds: '10',
    maxBackoffSeconds: '600',
    timeoutSeconds: '3600',
    recoverOnWorkerLoss: true,
    contacts: [],
    group: '',
    paused: false,
    after: '',
    waitFor: 'ANY',
  };
}

function formOf(job: JobView): FormState {
  const s: JobSpec = job.spec;
  return {
    version: job.version,
    ...(s.env ? { env: s.env } : {}),
    jobId: s.jobId,
    description: s.description,
    handler: s.handler,
    payload: JSON.stringify(s.payload ?? null, null, 2),
    scheduled: s.schedule !== null,
    expression: s.schedule?.expression ?? '',
    timezone: s.schedule?.timezone ?? 'UTC',
    startDate: s.schedule?.startDate ?? '',
    endDate: s.schedule?.endDate ?? '',
    mode: s.mode,
    delivery: s.delivery,
    pool: s.target.pool,
    labels: Object.entries(s.target.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    workerIds: s.target.workerIds.join(', '),
    routing: s.routing,
    concurrency: s.concurrency.policy,
    maxQueued: String(s.concurrency.maxQueued),
    misfire: s.misfire.policy,
    misfireWindowSeconds: String(s.misfire.windowSeconds),
    maxAttempts: String(s.retry.maxAttempts),
    backoffSeconds: String(s.retry.backoffSeconds),
    maxBackoffSeconds: String(s.retry.maxBackoffSeconds),
    timeoutSeconds: String(s.timeoutSeconds),
    recoverOnWorkerLoss: s.recoverOnWorkerLoss,
    contacts: [...s.contacts],
    group: s.group ?? '',
    paused: s.paused,
    after: s.after.map((d) => `${d.jobId} ${d.on}`).join('\n'),
    waitFor: s.waitFor,
  };
}

type LocalErrors = Record<string, string>;

/** Builds the spec the API validates; only what JSON cannot say (payload, labels) is checked here. */
function specOf(form: FormState): { spec?: JobSpecInput; errors: LocalErrors } {
  const errors: LocalErrors = {};
  let payload: unknown = null;
  try {
    payload = form.payload.trim() ? JSON.parse(form.payload) : null;
  } catch (error) {
    errors.payload = `is not valid JSON: ${(error as Error).message}`;
  }
  const labels: Record<string, string> = {};
  for (const [i, line] of form.labels.split('\n').entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      errors['target.labels'] = `line ${i + 1} must be key=value`;
      continue;
    }
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  const num = (value: string) => (value.trim() === '' ? Number.NaN : Number(value));
  const spec: JobSpecInput = {
    jobId: form.jobId.trim(),
    description: form.description,
    handler: form.handler.trim(),
    payload,
    ...(form.env ? { env: { ...form.env } } : {}),
    schedule: form.scheduled
      ? {
          expression: form.expression.trim(),
          timezone: form.timezone.trim() || 'UTC',
          ...(form.startDate ? { startDate: form.startDate } : {}),
          ...(form.endDate ? { endDate: form.endDate } : {}),
        }
      : null,
    mode: form.mode,
    delivery: form.delivery,
    target: {
      pool: form.pool.trim() || 'default',
      labels,
      workerIds: form.workerIds
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    },
    routing: form.routing,
    concurrency: { policy: form.concurrency, maxQueued: num(form.maxQueued) },
    misfire: { policy: form.misfire, windowSeconds: num(form.misfireWindowSeconds) },
    retry: {
      maxAttempts: num(form.maxAttempts),
      backoffSeconds: num(form.backoffSeconds),
      maxBackoffSeconds: num(form.maxBackoffSeconds),
    },
    timeoutSeconds: num(form.timeoutSeconds),
    recoverOnWorkerLoss: form.recoverOnWorkerLoss,
    contacts: form.contacts,
    ...(form.group.trim() ? { group: form.group.trim() } : {}),
    paused: form.paused,
    // The API checks the ids and the outcome (after.N.jobId, after.N.on) and refuses cycles.
    after: form.after
      .split('\n')
      .map((line) => line.trim().split(/[\s:]+/))
      .filter(([jobId]) => jobId)
      .map(([jobId = '', on = 'SUCCEEDED']) => ({ jobId, on: on.toUpperCase() as 'SUCCEEDED' })),
    waitFor: form.waitFor,
  };
  return Object.keys(errors).length ? { errors } : { spec, errors };
}

export default function JobEdit() {
  const { jobId } = useParams();
  const canEdit = useCan('admin');
  const job = useJob(jobId ?? '');
  if (!canEdit) {
    return (
      <section>
        <h1>{jobId ? `Edit ${jobId}` : 'New job'}</h1>
        <p className="state warn">Your role cannot create or change jobs; ask an admin.</p>
      </section>
    );
  }
  if (!jobId) return <JobForm key="new" draftKey="job:new" />;
  return (
    <QueryView query={job} what="the job">
      {(loaded) => <JobForm key={`${jobId}`} draftKey={`job:${jobId}`} existing={loaded} />}
    </QueryView>
  );
}

function JobForm({ existing, draftKey }: { existing?: JobView; draftKey: string }) {
  const navigate = useNavigate();
  const restored = useMemo(() => hasDraft(draftKey), [draftKey]);
  const [form, setForm, clearDraft] = useDraft<FormState>(draftKey, () =>
    existing ? formOf(existing) : blankForm(),
  );
  const [localErrors, setLocalErrors] = useState<LocalErrors>({});
  const save = useSaveJob(existing ? { jobId: existing.spec.jobId, version: form.version ?? 1 } : undefined);
  const job = useJob(existing?.spec.jobId ?? '');
  const update = (patch: Partial<FormState>) => setForm({ ...form, ...patch });

  const apiError = save.error instanceof ApiError ? save.error : undefined;
  const conflict = apiError?.code === 'VERSION_CONFLICT';
  const fieldError = (path: string): string | undefined =>
    localErrors[path] ??
    apiError?.fields.find((f) => f.path === path || f.path.startsWith(`${path}.`))?.message;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const { spec, errors } = specOf(form);
    setLocalErrors(errors);
    if (!spec) return;
    save.mutate(spec, {
      onSuccess: (saved) => {
        clearDraft();
        void navigate(`/jobs/${encodeURIComponent(saved.spec.jobId)}`);
      },
    });
  };

  const reloadLatest = async () => {
    const latest = await job.refetch();
    if (latest.data) {
      setForm(formOf(latest.data));
      dropDraft(draftKey);
      save.reset();
    }
  };

  const discard = () => {
    clearDraft();
    void navigate(existing ? `/jobs/${encodeURIComponent(existing.spec.jobId)}` : '/jobs');
  };

  return (
    <section>
      <div className="page-head">
        <h1>{existing ? `Edit ${existing.spec.jobId}` : 'New job'}</h1>
        {existing && <span className="muted">version {form.version}</span>}
      </div>
      {restored && !save.isSuccess && (
        <p className="state info" role="status">
          Restored your unsaved changes.{' '}
          <button type="button" onClick={discard}>
            Discard them
          </button>
        </p>
      )}
      {conflict && (
        <div className="state error" role="alert">
          <strong>VERSION_CONFLICT</strong> Someone else changed this job after you opened it (you edited
          version {form.version}). {apiError?.message}
          <div className="actions">
            <button type="button" className="primary" onClick={() => void reloadLatest()}>
              Reload the latest version
            </button>
          </div>
          <p className="small">Reloading replaces your edits with what is saved now.</p>
        </div>
      )}
      {save.error && !conflict && <ErrorBox error={save.error} />}
      <form className="job-form" onSubmit={submit} noValidate>
        <fieldset>
          <legend>Job</legend>
          <Field
            label="Job id"
            error={fieldError('jobId')}
            hint="letters, digits, . _ -; cannot change later"
          >
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                required
                readOnly={Boolean(existing)}
                value={form.jobId}
                onChange={(e) => update({ jobId: e.target.value })}
              />
            )}
          </Field>
          <HandlerField
            value={form.handler}
            pool={form.pool.trim() || 'default'}
            error={fieldError('handler')}
            onChange={(handler) => update({ handler })}
          />
          <Field label="Description" error={fieldError('description')}>
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.description}
                onChange={(e) => update({ description: e.target.value })}
              />
            )}
          </Field>
          <Field label="Group" error={fieldError('group')} hint="contacts can subscribe to a group">
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.group}
                onChange={(e) => update({ group: e.target.value })}
              />
            )}
          </Field>
          <Field label="Payload (JSON)" error={fieldError('payload')} wide>
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                rows={3}
                spellCheck={false}
                value={form.payload}
                onChange={(e) => update({ payload: e.target.value })}
              />
            )}
          </Field>
        </fieldset>

        <ScheduleBuilder form={form} update={update} fieldError={fieldError} />

        <fieldset>
          <legend>Where it runs</legend>
          <Select
            label="Mode"
            value={form.mode}
            options={MODES}
            error={fieldError('mode')}
            onChange={(mode) => update({ mode })}
          />
          <Select
            label="Delivery"
            value={form.delivery}
            options={DELIVERIES}
            error={fieldError('delivery')}
            onChange={(delivery) => update({ delivery })}
          />
          <Field label="Pool" error={fieldError('target.pool')}>
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.pool}
                onChange={(e) => update({ pool: e.target.value })}
              />
            )}
          </Field>
          <Select
            label="Routing"
            value={form.routing}
            options={ROUTINGS}
            error={fieldError('routing')}
            onChange={(routing) => update({ routing })}
          />
          <Field
            label="Labels"
            error={fieldError('target.labels')}
            hint="one key=value a line; a worker must have all"
          >
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                rows={2}
                value={form.labels}
                onChange={(e) => update({ labels: e.target.value })}
              />
            )}
          </Field>
          <Field
            label="Pinned workers"
            error={fieldError('target.workerIds')}
            hint="worker ids, comma separated"
          >
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.workerIds}
                onChange={(e) => update({ workerIds: e.target.value })}
              />
            )}
          </Field>
        </fieldset>

        <fieldset>
          <legend>Policies</legend>
          <Select
            label="Concurrency"
            value={form.concurrency}
            options={CONCURRENCY}
            error={fieldError('concurrency.policy')}
            onChange={(concurrency) => update({ concurrency })}
          />
          <NumberField
            label="Max queued"
            path="concurrency.maxQueued"
            form={form}
            update={update}
            field="maxQueued"
            fieldError={fieldError}
          />
          <Select
            label="Misfire"
            value={form.misfire}
            options={MISFIRES}
            error={fieldError('misfire.policy')}
            onChange={(misfire) => update({ misfire })}
          />
          <NumberField
            label="Misfire window (s)"
            path="misfire.windowSeconds"
            form={form}
            update={update}
            field="misfireWindowSeconds"
            fieldError={fieldError}
          />
          <NumberField
            label="Attempts"
            path="retry.maxAttempts"
            form={form}
            update={update}
            field="maxAttempts"
            fieldError={fieldError}
          />
          <NumberField
            label="Backoff (s)"
            path="retry.backoffSeconds"
            form={form}
            update={update}
            field="backoffSeconds"
            fieldError={fieldError}
          />
          <NumberField
            label="Max backoff (s)"
            path="retry.maxBackoffSeconds"
            form={form}
            update={update}
            field="maxBackoffSeconds"
            fieldError={fieldError}
          />
          <NumberField
            label="Timeout (s)"
            path="timeoutSeconds"
            form={form}
            update={update}
            field="timeoutSeconds"
            fieldError={fieldError}
          />
          <label className="check">
            <input
              type="checkbox"
              checked={form.recoverOnWorkerLoss}
              onChange={(e) => update({ recoverOnWorkerLoss: e.target.checked })}
            />
            Recover on another worker when its worker is lost
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={form.paused}
              onChange={(e) => update({ paused: e.target.checked })}
            />
            Paused
          </label>
        </fieldset>

        <fieldset>
          <legend>Runs after</legend>
          <Field
            label="Upstream jobs"
            error={fieldError('after')}
            hint="one a line: JOB, or JOB FAILED / JOB COMPLETED (default SUCCEEDED)"
          >
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                rows={2}
                value={form.after}
                onChange={(e) => update({ after: e.target.value })}
              />
            )}
          </Field>
          <Select
            label="Wait for"
            value={form.waitFor}
            options={WAIT_FOR}
            error={fieldError('waitFor')}
            onChange={(waitFor) => update({ waitFor })}
          />
        </fieldset>

        <ContactPicker
          selected={form.contacts}
          onChange={(contacts) => update({ contacts })}
          error={fieldError('contacts')}
        />

        <div className="actions form-actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : existing ? 'Save changes' : 'Create job'}
          </button>
          <button type="button" onClick={discard}>
            Cancel
          </button>
          {existing && <Link to={`/jobs/${encodeURIComponent(existing.spec.jobId)}`}>Back to the job</Link>}
        </div>
      </form>
    </section>
  );
}

/**
 * The handler: free text, suggesting what the live workers of the job's pool offer (the workers
 * API), and warning when none of them offers the typed one (its runs would end NO_WORKER).
 */
function HandlerField({
  value,
  pool,
  error,
  onChange,
}: {
  value: string;
  pool: string;
  error: string | undefined;
  onChange: (handler: string) => void;
}) {
  const listId = useId();
  const workers = useWorkers();
  const live = (workers.data ?? []).filter((w) => w.live && w.pool === pool);
  const offered = [...new Set(live.flatMap((w) => w.handlers))].sort();
  const handler = value.trim();
  const unoffered = Boolean(workers.data && handler && !offered.includes(handler));
  return (
    <Field
      label="Handler"
      error={error}
      warn={unoffered}
      hint={
        unoffered
          ? `No live worker in pool "${pool}" offers "${handler}" now: its runs end NO_WORKER until one does.`
          : `a handler the agents register; ${countOf(offered.length, 'handler')} offered by live workers in pool "${pool}"`
      }
    >
      {(id, describedBy) => (
        <>
          <input
            id={id}
            aria-describedby={describedBy}
            required
            list={listId}
            autoComplete="off"
            value={value}
            onChange={(e) => onChange(e.target.value)}
          />
          <datalist id={listId}>
            {offered.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </>
      )}
    </Field>
  );
}

function Field({
  label,
  error,
  hint,
  warn,
  wide,
  children,
}: {
  label: string;
  error?: string;
  hint?: string;
  /** The hint is a warning (shown as one; the form may still be saved). */
  warn?: boolean;
  wide?: boolean;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const described =
    [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' invalid' : ''}${wide ? ' wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, described)}
      {hint && (
        <span id={`${id}-hint`} className={warn ? 'hint warn' : 'hint'} aria-live="polite">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

function Select<T extends string>({
  label,
  value,
  options,
  error,
  onChange,
}: {
  label: string;
  value: T;
  options: Readonly<Record<T, string>>;
  error?: string;
  onChange: (value: T) => void;
}) {
  return (
    <Field label={label} error={error}>
      {(id, describedBy) => (
        <select
          id={id}
          aria-describedby={describedBy}
          value={value}
          onChange={(e) => onChange(e.target.value as T)}
        >
          {(Object.entries(options) as [T, string][]).map(([key, text]) => (
            <option key={key} value={key}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

type NumericField =
  | 'maxQueued'
  | 'misfireWindowSeconds'
  | 'maxAttempts'
  | 'backoffSeconds'
  | 'maxBackoffSeconds'
  | 'timeoutSeconds';

function NumberField({
  label,
  path,
  field,
  form,
  update,
  fieldError,
}: {
  label: string;
  path: string;
  field: NumericField;
  form: FormState;
  update: (patch: Partial<FormState>) => void;
  fieldError: (path: string) => string | undefined;
}) {
  return (
    <Field label={label} error={fieldError(path)}>
      {(id, describedBy) => (
        <input
          id={id}
          aria-describedby={describedBy}
          type="number"
          inputMode="numeric"
          min={0}
          value={form[field]}
          onChange={(e) => update({ [field]: e.target.value })}
        />
      )}
    </Field>
  );
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function ScheduleBuilder({
  form,
  update,
  fieldError,
}: {
  form: FormState;
  update: (patch: Partial<FormState>) => void;
  fieldError: (path: string) => string | undefined;
}) {
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

function ContactPicker({
  selected,
  onChange,
  error,
}: {
  selected: string[];
  onChange: (ids: string[]) => void;
  error?: string;
}) {
  const contacts = useContacts();
  const toggle = (id: string, on: boolean) =>
    onChange(on ? [...selected, id] : selected.filter((c) => c !== id));
  return (
    <fieldset>
      <legend>Contacts to alert</legend>
      {error && (
        <span className="field-error wide" role="alert">
          {error}
        </span>
      )}
      <QueryView query={contacts} what="contacts">
        {(page) =>
          page.items.length === 0 ? (
            <p className="muted wide">
              No contacts yet: <Link to="/contacts">add one</Link>, then pick it here.
            </p>
          ) : (
            <div className="checks wide">
              {page.items.map((c) => (
                <label key={c.contactId} className="check">
                  <input
                    type="checkbox"
                    checked={selected.includes(c.contactId)}
                    onChange={(e) => toggle(c.contactId, e.target.checked)}
                  />
                  {c.name} <span className="muted small">{c.email}</span>
                </label>
              ))}
            </div>
          )
        }
      </QueryView>
    </fieldset>
  );
}
