// An instance (one `next start` process): its entity as the API answers it. Instances register themselves with their
// heartbeat: no client creates, changes or filters them.
import { z } from 'zod';
import { DateTimeJsonSchema } from './date';

/** An instance as the API answers it, with its state as judged by the database clock. */
export const InstanceJsonSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  startedAt: DateTimeJsonSchema,
  lastSeenAt: DateTimeJsonSchema,
  stoppedAt: DateTimeJsonSchema.nullable(),
  clockSkewMs: z.number(),
  state: z.enum(['live', 'lost', 'stopped']),
  silentForMs: z.number(),
});
export const InstanceListJsonSchema = z.object({ instances: z.array(InstanceJsonSchema) });

export type InstanceJson = z.input<typeof InstanceJsonSchema>;
