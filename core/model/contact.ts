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

export const ContactSpecSchema = z.strictObject({
  contactId: IdSchema,
  name: z.string().min(1).max(256),
  email: z.email('must be a valid email address'),
  /** Alert kinds this contact wants; all of them unless narrowed. */
  alertKinds: z.array(z.enum(AlertKinds)).default([...AlertKinds]),
  /** Job groups this contact subscribes to, besides the jobs that name it. */
  groups: z.array(IdSchema).max(100).default([]),
});
export type Contact = z.output<typeof ContactSpecSchema>;
