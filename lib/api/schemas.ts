import 'server-only';
import { z } from 'zod';
import { jobTypeNames } from '../jobs/registry';
import { RUN_STATUSES, USER_ROLES } from '../store/types';
import { MISSED_POLICIES, NamePageQuerySchema, OVERLAP_POLICIES, TimePageQuerySchema } from '../validation/job';
import { ScheduleSchema } from '../validation/schedule';

/** Query of GET /api/jobs. */
// Names and tags never hold control characters, and PostgreSQL refuses NUL in text outright.
const NO_CONTROL = /^[^\p{Cc}]*$/u;

export const JobListQuerySchema = NamePageQuerySchema.extend({
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
export const RunListQuerySchema = TimePageQuerySchema;

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
  retry: z
    .object({
      maxAttempts: z.number().int().describe('Attempts per occurrence, the first included (1 = no retry)'),
      backoffSeconds: z.number().int().describe('Delay before the first retry; doubles for each further retry'),
      maxBackoffSeconds: z.number().int().describe('Upper bound of the delay between retries'),
    })
    .describe('Retry with exponential backoff: attempt n+1 starts min(backoffSeconds * 2^(n-1), maxBackoffSeconds) after attempt n failed'),
  concurrencyLimit: z.number().int().nullable().describe('Most runs of this job at once across the cluster; null = no limit beyond the overlap policy'),
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
  rangeEnd: IsoDate.nullable().describe('Set when this record stands for a range of occurrences (one missed record for an outage): every occurrence from scheduledFor through rangeEnd'),
  rangeCount: z.number().int().nullable().describe('How many occurrences the range holds; null when too many to count'),
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
  dispatch: z
    .enum(['notify', 'change-stream', 'polling'])
    .nullable()
    .describe('How due work reaches this instance: PostgreSQL LISTEN/NOTIFY, a MongoDB change stream, or polling alone; null without a running scheduler'),
  error: z.string().optional(),
});

export const ErrorJsonSchema = z.object({ error: z.string() });
export const ValidationErrorJsonSchema = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string().describe('Dotted field path, e.g. schedule.expression'), message: z.string() })),
});

// Users, tokens, sessions and the audit log. The serializers in ./serialize pick exactly these fields, so a field
// added to the store (a hash, a secret) never reaches an answer by accident.
const RoleSchema = z.enum(USER_ROLES);

export const UserJsonSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: RoleSchema,
  disabled: z.boolean(),
  failedLogins: z.number().int().describe('Wrong passwords since the last sign-in; 5 lock the account'),
  lockedUntil: IsoDate.nullable(),
  createdAt: IsoDate,
  updatedAt: IsoDate,
});
export const UserListJsonSchema = z.object({ users: z.array(UserJsonSchema) });
export const SessionsRevokedJsonSchema = z.object({ revoked: z.number().int().describe('How many sessions ended') });

export const TokenJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  prefix: z.string().describe('First characters of the secret, to recognise it'),
  createdAt: IsoDate,
  createdBy: z.string().nullable(),
  lastUsedAt: IsoDate.nullable(),
  revokedAt: IsoDate.nullable(),
});
export const TokenListJsonSchema = z.object({ tokens: z.array(TokenJsonSchema) });
export const TokenCreatedJsonSchema = TokenJsonSchema.extend({ secret: z.string().describe('The bearer token: shown this once, only its hash is stored') });

/** Body of POST /api/session. login() reads it leniently (missing fields are a 400 from there). */
export const SessionCreateSchema = z.object({ username: z.string(), password: z.string() });
export const WhoAmIJsonSchema = z.object({ kind: z.enum(['user', 'token', 'system']), name: z.string(), role: RoleSchema });
export const SessionJsonSchema = z.object({ name: z.string(), role: RoleSchema, expiresAt: IsoDate });

export const AuditEntryJsonSchema = z.object({
  id: z.string(),
  at: IsoDate.describe('Database time of the append'),
  actorType: z.enum(['user', 'token', 'system']),
  actorId: z.string().nullable(),
  actorName: z.string(),
  action: z.string().describe('e.g. job.create, user.update, token.revoke, login.failure'),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  targetName: z.string().nullable(),
  ip: z.string().nullable(),
  changes: z
    .record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }))
    .nullable()
    .describe('Changed fields with their values before and after; secrets masked'),
});
export const AuditListJsonSchema = z.object({ entries: z.array(AuditEntryJsonSchema), nextCursor: z.string().nullable() });

export type JobJson = z.input<typeof JobJsonSchema>;
export type JobListItemJson = z.input<typeof JobListItemJsonSchema>;
export type RunJson = z.input<typeof RunJsonSchema>;
export type LastRunJson = z.input<typeof LastRunJsonSchema>;
export type InstanceJson = z.input<typeof InstanceJsonSchema>;
export type UserJson = z.input<typeof UserJsonSchema>;
export type TokenJson = z.input<typeof TokenJsonSchema>;
export type AuditEntryJson = z.input<typeof AuditEntryJsonSchema>;
