/**
 * Sample records for the contract suites: valid by the model's schemas, varied by a few fields.
 */
import { type DispatchEnvelope, ENVELOPE_VERSION } from '../../envelope';
import {
  fireRunId,
  isoSeconds,
  type Job,
  JobSchema,
  type JobSpecInput,
  type Run,
  RunSchema,
  type WorkerRegistration,
  type WorkerRegistrationInput,
  WorkerRegistrationSchema,
} from '../../model';

/** A fixed instant the suites count from: 2026-01-30T10:00:00Z. */
export const T0 = Date.parse('2026-01-30T10:00:00Z');

let counter = 0;
/** An id unique within the process, so suites sharing a table (one emulator prefix per file) do not collide. */
export function uniqueId(stem: string): string {
  counter += 1;
  return `${stem}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`;
}

export function sampleJob(overrides: Partial<JobSpecInput> = {}, version = 1): Job {
  return JobSchema.parse({
    spec: {
      jobId: uniqueId('job'),
      handler: 'reports.daily',
      payload: { region: 'eu', deep: { list: [1, 'two', null, { three: true }] } },
      schedule: { expression: 'cron(0 10 * * ? *)', timezone: 'Europe/London' },
      contacts: ['ops'],
      ...overrides,
    },
    version,
    createdAt: T0,
    updatedAt: T0,
    syncState: 'OUT_OF_SYNC',
  });
}

export function sampleRun(overrides: Partial<Run> = {}): Run {
  const jobId = overrides.jobId ?? uniqueId('job');
  const scheduledTime = overrides.scheduledTime ?? isoSeconds(T0);
  return RunSchema.parse({
    runId: fireRunId(jobId, scheduledTime),
    jobId,
    scheduledTime,
    trigger: 'SCHEDULE',
    handler: 'reports.daily',
    payload: { n: 1, nested: { ok: true, items: ['a', 'b'] } },
    status: 'PENDING',
    attempt: 1,
    fence: 1,
    jobVersion: 1,
    concurrency: 'FORBID',
    createdAt: T0,
    updatedAt: T0,
    history: [{ at: T0, status: 'PENDING', attempt: 1 }],
    ...overrides,
  });
}

export function sampleRegistration(overrides: Partial<WorkerRegistrationInput> = {}): WorkerRegistration {
  return WorkerRegistrationSchema.parse({
    workerId: uniqueId('w'),
    host: 'host-1.internal',
    pool: uniqueId('pool'),
    handlers: ['reports.daily', 'billing.close'],
    labels: { zone: 'eu-west-1a' },
    capacity: 4,
    endpoints: { zmqAddress: 'tcp://10.0.0.1:5555' },
    ...overrides,
  });
}

export function sampleEnvelope(overrides: Partial<DispatchEnvelope> = {}): DispatchEnvelope {
  const jobId = overrides.jobId ?? uniqueId('job');
  const scheduledTime = isoSeconds(T0);
  return {
    v: ENVELOPE_VERSION,
    type: 'dispatch',
    runId: fireRunId(jobId, scheduledTime),
    jobId,
    handler: 'reports.daily',
    payload: { n: 1, text: 'héllo', list: [1, 2, 3] },
    scheduledTime,
    attempt: 1,
    fence: 3,
    deadlineAt: T0 + 3_600_000,
    sentAt: T0,
    ...overrides,
  };
}
