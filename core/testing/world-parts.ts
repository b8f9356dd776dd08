/** What the unit-test worlds (dispatch-world.ts, alerting-world.ts) make the same way: a stored job and a worker's registration. */
import {
  type Job,
  JobSchema,
  type JobSpecInput,
  type WorkerRegistration,
  WorkerRegistrationSchema,
} from '../model';

/** Job `report` running `reports.daily`, as stored at `at` (version 1, in sync), with `spec` over it. */
export function storedJob(spec: Partial<JobSpecInput>, at: number): Job {
  return JobSchema.parse({
    spec: { jobId: 'report', handler: 'reports.daily', ...spec },
    version: 1,
    createdAt: at,
    updatedAt: at,
    syncState: 'IN_SYNC',
  });
}

/** Worker `workerId` on its own host, offering `reports.daily` over a memory queue, with `extra` over it. */
export function workerRegistration(
  workerId: string,
  extra: Record<string, unknown> = {},
): WorkerRegistration {
  return WorkerRegistrationSchema.parse({
    workerId,
    host: `${workerId}.local`,
    handlers: ['reports.daily'],
    endpoints: { queueUrl: `memory://${workerId}` },
    ...extra,
  });
}
