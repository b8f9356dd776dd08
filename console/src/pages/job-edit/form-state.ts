/**
 * The job form's state as plain data: the fields as the form holds them (strings while typed), the
 * defaults, the form of a saved job, and the spec built from the form for the API to validate.
 */
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
} from '../../api/types';

export interface FormState {
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

/** What every section of the form gets: the state, a patch to apply, and the error for a spec path. */
export interface SectionProps {
  form: FormState;
  update: (patch: Partial<FormState>) => void;
  fieldError: (path: string) => string | undefined;
}

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The defaults of core's JobSpecSchema, as the form shows them. */
export function blankForm(): FormState {
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

export function formOf(job: JobView): FormState {
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

export type LocalErrors = Record<string, string>;

/** Builds the spec the API validates; only what JSON cannot say (payload, labels) is checked here. */
export function specOf(form: FormState): { spec?: JobSpecInput; errors: LocalErrors } {
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
