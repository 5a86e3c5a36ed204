import { z } from 'zod';
import { getJobType, jobTypeNames } from '../jobs/registry';
import { NameCursorSchema, TimeCursorSchema } from './cursor';
import { ScheduleSchema } from './schedule';
import { isSingleLineText, refuseUnstorableString, refuseUnstorableText } from './text';
import { MISSED_POLICIES, OVERLAP_POLICIES } from '../domain';

export { MISSED_POLICIES, OVERLAP_POLICIES, type MissedPolicy, type OverlapPolicy } from '../domain';

export const JobNameSchema = z
  .string({ error: 'name must be a string' })
  .trim()
  .min(1, 'name is required')
  .max(100, 'name is at most 100 characters')
  // Control characters make names unreadable in lists and logs (and PostgreSQL refuses NUL).
  .refine(isSingleLineText, 'name must not contain control characters or invalid Unicode');

export const TagSchema = z.string().trim().min(1).max(40).regex(/^[\p{L}\p{N}_.:/-]+$/u, 'tags are letters, digits and _ . : / -');

/** Retry policy of a job; the store's DEFAULT_RETRY (lib/store/types.ts) is the same. */
export const RetrySchema = z
  .object(
    {
      maxAttempts: z
        .number({ error: 'retry.maxAttempts must be a number' })
        .int('retry.maxAttempts must be a whole number')
        .min(1, 'retry.maxAttempts is at least 1 (1 = no retry)')
        .max(10, 'retry.maxAttempts is at most 10')
        .default(1)
        .describe('Attempts per occurrence, the first included (1 = no retry)'),
      backoffSeconds: z
        .number({ error: 'retry.backoffSeconds must be a number' })
        .int('retry.backoffSeconds must be a whole number')
        .min(1, 'retry.backoffSeconds is at least 1')
        .max(86_400, 'retry.backoffSeconds is at most 86400 (one day)')
        .default(10)
        .describe('Delay before the first retry; doubles for each further retry'),
      maxBackoffSeconds: z
        .number({ error: 'retry.maxBackoffSeconds must be a number' })
        .int('retry.maxBackoffSeconds must be a whole number')
        .min(1, 'retry.maxBackoffSeconds is at least 1')
        .max(86_400, 'retry.maxBackoffSeconds is at most 86400 (one day)')
        .default(600)
        .describe('Upper bound of the delay between retries'),
    },
    // Only the wrong-type case: unknown keys keep zod's message, which names them.
    { error: (issue) => (issue.code === 'invalid_type' ? 'retry must be an object' : undefined) },
  )
  .strict()
  .refine((r) => r.maxBackoffSeconds >= r.backoffSeconds, {
    message: 'retry.maxBackoffSeconds must be at least retry.backoffSeconds',
    path: ['maxBackoffSeconds'],
  });

export const ConcurrencyLimitSchema = z
  .number({ error: 'concurrencyLimit must be a number or null' })
  .int('concurrencyLimit must be a whole number')
  .min(1, 'concurrencyLimit is at least 1 (null = no limit)')
  .max(1000, 'concurrencyLimit is at most 1000')
  .nullable()
  .describe('Most runs of this job at once across the cluster; null = no limit beyond the overlap policy');

const DescriptionSchema = z.string({ error: 'description must be a string' }).trim().max(2000, 'description is at most 2000 characters').superRefine(refuseUnstorableString);
/** Any JSON object; every string in it (field names included) must be storable. The type's own schema checks the rest. */
const PayloadSchema = z.record(z.string(), z.unknown(), { error: 'payload must be a JSON object' }).superRefine(refuseUnstorableText);

const jobFields = {
  name: JobNameSchema,
  description: DescriptionSchema.default(''),
  type: z.string({ error: 'type is required' }).refine((t) => getJobType(t) !== undefined, {
    message: `unknown job type; known types: ${jobTypeNames.join(', ')}`,
  }),
  payload: PayloadSchema.default({}),
  schedule: ScheduleSchema,
  paused: z.boolean().default(false),
  timeoutSeconds: z.number().int().min(1).max(86_400).default(300).describe('A run still going after this is marked timed-out'),
  overlapPolicy: z.enum(OVERLAP_POLICIES).default('skip'),
  missedPolicy: z.enum(MISSED_POLICIES).default('run-once'),
  tags: z.array(TagSchema).max(20).default([]),
  retry: RetrySchema.default({ maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 }),
  concurrencyLimit: ConcurrencyLimitSchema.default(null),
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
    description: DescriptionSchema.optional(),
    type: jobFields.type.optional(),
    payload: PayloadSchema.optional(),
    schedule: ScheduleSchema.optional(),
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    overlapPolicy: z.enum(OVERLAP_POLICIES).optional(),
    missedPolicy: z.enum(MISSED_POLICIES).optional(),
    tags: z.array(TagSchema).max(20).optional(),
    // A whole policy: fields left out take their defaults, not the job's current values.
    retry: RetrySchema.optional(),
    concurrencyLimit: ConcurrencyLimitSchema.optional(),
  })
  .strict();

export type JobCreateInput = z.input<typeof JobCreateSchema>;
export type JobSpec = z.output<typeof JobCreateSchema>;
export type JobUpdateInput = z.output<typeof JobUpdateSchema>;

export const IdSchema = z.string().uuid('not a valid id');

/**
 * A page size (a number, or from a query string digits only), 1-200, 50 when absent. Not z.coerce.number(), which read "1 ",
 * "1e1" and "0x10" as numbers (a property test found "1 ").
 */
const LIMIT_MESSAGE = 'limit must be a whole number from 1 to 200';
export const QueryLimitSchema = z
  .union([z.number(), z.string().regex(/^\d{1,4}$/, LIMIT_MESSAGE)])
  .optional()
  .transform((value) => (value === undefined ? 50 : Number(value)))
  .pipe(z.number().int().min(1, LIMIT_MESSAGE).max(200, LIMIT_MESSAGE))
  .describe('Page size, 1-200 (default 50)');

/** Paging of lists sorted by name (jobs): a crafted cursor cannot carry a name the database refuses. */
export const NamePageQuerySchema = z.object({
  limit: QueryLimitSchema,
  cursor: NameCursorSchema.optional(),
});

/** Paging of lists sorted by time (runs, audit entries): a crafted cursor cannot carry a time outside years 1-9999. */
export const TimePageQuerySchema = z.object({
  limit: QueryLimitSchema,
  cursor: TimeCursorSchema.optional(),
});
