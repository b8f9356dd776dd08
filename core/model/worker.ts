import { z } from 'zod';
import { EpochMsSchema, HandlerNameSchema, IdSchema, LabelsSchema } from './common';

/*
 * Worker lease states:
 *   ACTIVE   ─► DRAINING (SIGTERM: finish or hand back, take nothing new) ─► GONE (lease released)
 *   ACTIVE   ─► GONE     (lease expired and swept by the monitor, or released on clean exit)
 * A worker that registers again gets a new, higher lease fence; writes carrying an older fence fail.
 */
export const WorkerStatuses = ['ACTIVE', 'DRAINING', 'GONE'] as const;
export type WorkerStatus = (typeof WorkerStatuses)[number];

export const WorkerEndpointsSchema = z.object({
  /** URL of the worker's own SQS queue (direct deliveries). */
  queueUrl: z.string().optional(),
  /** ZeroMQ ROUTER address and CURVE public key (Z85), when the worker accepts direct delivery. */
  zmqAddress: z.string().optional(),
  zmqPublicKey: z.string().optional(),
});

/**
 * What an agent can do beyond running handlers. `precise`: it holds planned fires of precise REMOTE
 * jobs and starts them on their second (docs/precise-jobs.md); the planner picks only such workers.
 */
export const WorkerFeatures = ['precise'] as const;
export type WorkerFeature = (typeof WorkerFeatures)[number];

/** What an agent announces when it registers. */
export const WorkerRegistrationSchema = z.strictObject({
  workerId: IdSchema,
  host: z.string().min(1).max(255),
  pool: IdSchema.default('default'),
  handlers: z.array(HandlerNameSchema).max(500),
  labels: LabelsSchema.default({}),
  capacity: z.number().int().min(1).max(1000).default(4),
  /** Lower runs first under FIRST and FAILOVER routing. */
  priority: z.number().int().min(0).max(1_000_000).default(100),
  endpoints: WorkerEndpointsSchema.default({}),
  /** Absent on agents older than the feature: they support none. */
  features: z.array(z.enum(WorkerFeatures)).max(WorkerFeatures.length).optional(),
});
export type WorkerRegistration = z.output<typeof WorkerRegistrationSchema>;
export type WorkerRegistrationInput = z.input<typeof WorkerRegistrationSchema>;

export const WorkerSchema = WorkerRegistrationSchema.extend({
  status: z.enum(WorkerStatuses),
  /** Numeric fencing token of the current lease; raised on every registration. */
  leaseFence: z.number().int().min(1),
  leaseExpiresAt: EpochMsSchema,
  registeredAt: EpochMsSchema,
  heartbeatAt: EpochMsSchema,
  /** Runs the worker reported running at its last heartbeat. */
  load: z.number().int().min(0),
});
export type Worker = z.output<typeof WorkerSchema>;

export function isLive(worker: Worker, now: number): boolean {
  return worker.status === 'ACTIVE' && worker.leaseExpiresAt > now;
}
