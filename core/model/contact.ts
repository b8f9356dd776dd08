import { z } from 'zod';
import { IdSchema } from './common';

export const AlertKinds = [
  'failure',
  'recovery',
  'timeout',
  'lost',
  'no_worker',
  'job_unavailable',
  'misfire',
] as const;
export type AlertKind = (typeof AlertKinds)[number];

/** A contact's subscription to one job or one group, with the alert kinds it wants from it. */
export const SubscriptionSchema = z
  .strictObject({
    jobId: IdSchema.optional(),
    group: IdSchema.optional(),
    alertKinds: z
      .array(z.enum(AlertKinds))
      .min(1)
      .default([...AlertKinds]),
  })
  .refine((s) => (s.jobId === undefined) !== (s.group === undefined), 'names exactly one of jobId or group');
export type Subscription = z.output<typeof SubscriptionSchema>;

export const ContactSpecSchema = z.strictObject({
  contactId: IdSchema,
  name: z.string().min(1).max(256),
  email: z.email('must be a valid email address'),
  /** Alert kinds this contact wants; all of them unless narrowed. */
  alertKinds: z.array(z.enum(AlertKinds)).default([...AlertKinds]),
  /** Job groups this contact subscribes to, besides the jobs that name it. */
  groups: z.array(IdSchema).max(100).default([]),
  /** Per-job and per-group subscriptions, each with its own alert kinds (on top of the above). */
  subscriptions: z.array(SubscriptionSchema).max(200).default([]),
});
export type Contact = z.output<typeof ContactSpecSchema>;
