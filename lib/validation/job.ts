import { z } from 'zod';
import { getJobType, jobTypeNames } from '../jobs/registry';
import { ScheduleSchema } from './schedule';

export const OVERLAP_POLICIES = ['skip', 'allow', 'queue-one'] as const;
export const MISSED_POLICIES = ['run-once', 'skip', 'run-all'] as const;

export const JobNameSchema = z
  .string({ error: 'name must be a string' })
  .trim()
  .min(1, 'name is required')
  .max(100, 'name is at most 100 characters')
  // Control characters make names unreadable in lists and logs.
  .regex(/^[^\p{Cc}]+$/u, 'name must not contain control characters');

export const TagSchema = z.string().trim().min(1).max(40).regex(/^[\p{L}\p{N}_.:/-]+$/u, 'tags are letters, digits and _ . : / -');

const jobFields = {
  name: JobNameSchema,
  description: z.string().trim().max(2000, 'description is at most 2000 characters').default(''),
  type: z.string({ error: 'type is required' }).refine((t) => getJobType(t) !== undefined, {
    message: `unknown job type; known types: ${jobTypeNames.join(', ')}`,
  }),
  payload: z.record(z.string(), z.unknown(), { error: 'payload must be a JSON object' }).default({}),
  schedule: ScheduleSchema,
  paused: z.boolean().default(false),
  timeoutSeconds: z.number().int().min(1).max(86_400).default(300).describe('A run still going after this is marked timed-out'),
  overlapPolicy: z.enum(OVERLAP_POLICIES).default('skip'),
  missedPolicy: z.enum(MISSED_POLICIES).default('run-once'),
  tags: z.array(TagSchema).max(20).default([]),
};

/** Validates the payload against its type's own schema; issues land under `payload.<field>`. */
function checkPayload(value: { type?: string; payload?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  if (value.type === undefined || value.payload === undefined) return;
  const type = getJobType(value.type);
  if (!type) return;
  const parsed = type.payloadSchema.safeParse(value.payload);
  if (parsed.success) {
    value.payload = parsed.data as Record<string, unknown>;
    return;
  }
  for (const issue of parsed.error.issues) {
    ctx.addIssue({ code: 'custom', path: ['payload', ...issue.path.map(String)], message: issue.message });
  }
}

/** Body of POST /api/jobs and of the create form. */
export const JobCreateSchema = z.object(jobFields).strict().superRefine(checkPayload);

/** Body of PATCH /api/jobs/{id}: any subset of the create fields. The merged job is validated again in full. */
export const JobUpdateSchema = z
  .object({
    name: jobFields.name.optional(),
    description: z.string().trim().max(2000).optional(),
    type: jobFields.type.optional(),
    payload: z.record(z.string(), z.unknown(), { error: 'payload must be a JSON object' }).optional(),
    schedule: ScheduleSchema.optional(),
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    overlapPolicy: z.enum(OVERLAP_POLICIES).optional(),
    missedPolicy: z.enum(MISSED_POLICIES).optional(),
    tags: z.array(TagSchema).max(20).optional(),
  })
  .strict();

export type JobCreateInput = z.input<typeof JobCreateSchema>;
export type JobSpec = z.output<typeof JobCreateSchema>;
export type JobUpdateInput = z.output<typeof JobUpdateSchema>;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

export const IdSchema = z.string().uuid('not a valid id');

export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});
