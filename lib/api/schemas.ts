import 'server-only';
import { z } from 'zod';
import { jobTypeNames } from '../jobs/registry';
import { RUN_STATUSES } from '../store/types';
import { MISSED_POLICIES, OVERLAP_POLICIES, PageQuerySchema } from '../validation/job';
import { ScheduleSchema } from '../validation/schedule';

/** Query of GET /api/jobs. */
// Names and tags never hold control characters, and PostgreSQL refuses NUL in text outright.
const NO_CONTROL = /^[^\p{Cc}]*$/u;

export const JobListQuerySchema = PageQuerySchema.extend({
  search: z
    .string()
    .trim()
    .max(200, 'search is at most 200 characters')
    .regex(NO_CONTROL, 'search must not contain control characters')
    .optional()
    .describe('Case-insensitive substring of the name'),
  tag: z
    .string()
    .trim()
    .max(40, 'tag is at most 40 characters')
    .regex(NO_CONTROL, 'tag must not contain control characters')
    .optional()
    .describe('Only jobs with this tag'),
});

/** Query of GET /api/jobs/{id}/runs. */
export const RunListQuerySchema = PageQuerySchema;

const IsoDate = z.iso.datetime();

// The response shapes. Serializers are typed against them and the OpenAPI document is generated from them.
export const JobJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.enum(jobTypeNames as [string, ...string[]]),
  payload: z.record(z.string(), z.unknown()).describe('Secret values (credential headers) are masked: "••••" plus at most the last 4 characters; send them back unchanged to keep them'),
  schedule: ScheduleSchema,
  paused: z.boolean(),
  timeoutSeconds: z.number().int(),
  overlapPolicy: z.enum(OVERLAP_POLICIES),
  missedPolicy: z.enum(MISSED_POLICIES),
  tags: z.array(z.string()),
  nextRunAt: IsoDate.nullable().describe('The next occurrence; null when paused or when a one-off has run'),
  createdAt: IsoDate,
  updatedAt: IsoDate,
});

export const RunJsonSchema = z.object({
  id: z.string(),
  jobId: z.string(),
  jobName: z.string(),
  scheduledFor: IsoDate.describe('When the occurrence was due'),
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  durationMs: z.number().int().nullable(),
  status: z.enum(RUN_STATUSES),
  trigger: z.enum(['schedule', 'manual', 'catch-up']),
  instanceId: z.string().nullable(),
  attempt: z.number().int(),
  error: z.string().nullable(),
  output: z.string().nullable(),
});

export const LastRunJsonSchema = RunJsonSchema.pick({ id: true, status: true, scheduledFor: true, startedAt: true, finishedAt: true, instanceId: true });

export const JobListItemJsonSchema = JobJsonSchema.extend({ lastRun: LastRunJsonSchema.nullable() });

export const JobListJsonSchema = z.object({ jobs: z.array(JobListItemJsonSchema), nextCursor: z.string().nullable() });
export const RunListJsonSchema = z.object({ runs: z.array(RunJsonSchema), nextCursor: z.string().nullable() });

export const InstanceJsonSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  startedAt: IsoDate,
  lastSeenAt: IsoDate,
  stoppedAt: IsoDate.nullable(),
  clockSkewMs: z.number(),
  state: z.enum(['live', 'lost', 'stopped']),
  silentForMs: z.number(),
});
export const InstanceListJsonSchema = z.object({ instances: z.array(InstanceJsonSchema) });

export const RunNowJsonSchema = z.object({ jobId: z.string(), scheduledFor: IsoDate });

export const HealthJsonSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  instanceId: z.string().nullable(),
  store: z.string().nullable().describe('Which database, without secrets'),
  scheduler: z.string().describe("This instance's scheduler state (running, disabled, failed, ...)"),
  error: z.string().optional(),
});

export const ErrorJsonSchema = z.object({ error: z.string() });
export const ValidationErrorJsonSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string().describe('Dotted field path, e.g. schedule.expression'), message: z.string() })),
});

export type JobJson = z.input<typeof JobJsonSchema>;
export type JobListItemJson = z.input<typeof JobListItemJsonSchema>;
export type RunJson = z.input<typeof RunJsonSchema>;
export type LastRunJson = z.input<typeof LastRunJsonSchema>;
export type InstanceJson = z.input<typeof InstanceJsonSchema>;
