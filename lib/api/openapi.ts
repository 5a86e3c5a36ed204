import 'server-only';
import { z } from 'zod';
import { jobTypes } from '../jobs/registry';
import { JobCreateSchema, JobUpdateSchema } from '../validation/job';
import { SESSION_COOKIE } from '../auth/token';
import { AuditQuerySchema } from '../services/audit';
import { TokenCreateSchema } from '../services/tokens';
import { UserCreateSchema, UserUpdateSchema } from '../services/users';
import type { UserRole } from '../store/types';
import {
  AuditListJsonSchema,
  ErrorJsonSchema,
  HealthJsonSchema,
  InstanceListJsonSchema,
  JobJsonSchema,
  JobListJsonSchema,
  JobListQuerySchema,
  RunListJsonSchema,
  RunListQuerySchema,
  RunNowJsonSchema,
  SessionCreateSchema,
  SessionJsonSchema,
  SessionsRevokedJsonSchema,
  TokenCreatedJsonSchema,
  TokenListJsonSchema,
  UserJsonSchema,
  UserListJsonSchema,
  ValidationErrorJsonSchema,
  WhoAmIJsonSchema,
} from './schemas';

type JsonSchema = Record<string, unknown>;

/** OpenAPI 3.1 uses JSON Schema 2020-12 as is; only the $schema marker goes. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: JsonSchema) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: jsonContent(ref('Error')) });

const commonErrors = {
  '401': errorResponse('Missing or wrong credentials: {"error":"unauthorized"}'),
  '500': errorResponse('Unexpected failure (logged; no details in the answer)'),
  '503': errorResponse('The database is unreachable'),
};
const invalidInput = { '400': { description: 'Invalid input, with field-level issues', content: jsonContent(ref('ValidationError')) } };
const notFound = { '404': errorResponse('No job with this id (malformed ids included)') };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Job id' };
const idOf = (what: string) => ({ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' }, description: `${what} id` });
const notFoundOf = (what: string) => ({ '404': errorResponse(`No ${what} with this id (malformed ids included)`) });

/** `null`: public, no credentials needed. Otherwise the least role that may call the operation. */
type RequiredRole = UserRole | null;
const ROLE_HELP: Record<UserRole, string> = {
  viewer: 'Any signed-in user or token (viewer and up).',
  operator: 'Needs the operator role (or admin).',
  admin: 'Needs the admin role.',
};

/**
 * Stamps the role an operation needs, as `x-required-role` and in its description, and documents the 403 that a
 * lower role gets. The handlers and services enforce the role (requireRole); tests/api check the two agree.
 */
function withRole<T extends JsonSchema>(role: RequiredRole, operation: T): T {
  const responses = operation.responses as JsonSchema;
  const description = [operation.description, role ? ROLE_HELP[role] : 'Public: no credentials needed.'].filter(Boolean).join(' ');
  return {
    ...operation,
    description,
    'x-required-role': role,
    ...(role === null ? { security: [] } : {}),
    responses: role === 'operator' || role === 'admin' ? { ...responses, '403': errorResponse(`The caller's role is below ${role}`) } : responses,
  };
}

/** Turns a zod object of query parameters into OpenAPI parameter objects. */
function queryParameters(schema: z.ZodObject): JsonSchema[] {
  const json = schemaOf(schema, 'input') as { properties?: Record<string, JsonSchema> };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: 'query', required: false, schema: rest, ...(description ? { description } : {}) };
  });
}

function buildDocument(): JsonSchema {
  const jobCreate = schemaOf(JobCreateSchema, 'input') as { properties: Record<string, JsonSchema> };
  const jobUpdate = schemaOf(JobUpdateSchema, 'input') as { properties: Record<string, JsonSchema> };
  // The type check is a refinement (invisible to JSON Schema): spell the known types out.
  const typeNames = jobTypes.map((t) => t.name);
  const payloadHelp = `Must match the type's payload schema: ${typeNames.map((n) => `${n} -> #/components/schemas/Payload_${n}`).join(', ')}`;
  for (const body of [jobCreate, jobUpdate]) {
    body.properties.type = { ...body.properties.type, enum: typeNames };
    body.properties.payload = { ...body.properties.payload, description: payloadHelp };
  }
  const payloadSchemas = Object.fromEntries(jobTypes.map((t) => [`Payload_${t.name}`, { ...schemaOf(t.payloadSchema, 'input'), description: t.description }]));

  const jobResponse = { description: 'The job', content: jsonContent(ref('Job')) };
  const action = (summary: string, operationId: string) => ({
    post: withRole('operator', {
      summary,
      operationId,
      tags: ['jobs'],
      parameters: [idParameter],
      responses: { '200': jobResponse, ...notFound, ...commonErrors },
    }),
  });
  const userResponse = { description: 'The user (never the password hash)', content: jsonContent(ref('User')) };
  const auditQuery = queryParameters(AuditQuerySchema).map((p) =>
    p.name === 'from' || p.name === 'to' ? { ...p, schema: { type: 'string', format: 'date-time' }, description: p.name === 'from' ? 'Entries at or after' : 'Entries at or before' } : p,
  );

  return {
    openapi: '3.1.0',
    info: {
      title: 'Cronplane API',
      version: '1.0.0',
      description:
        'Manage scheduled jobs and inspect their runs. Authenticate with `Authorization: Bearer <API_TOKEN>` (or a dashboard session cookie). Errors are JSON: {"error": "..."}, plus "issues" for invalid input. Each operation names the least role it needs in `x-required-role` (viewer < operator < admin; null = public); a lower role gets 403.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    tags: [{ name: 'jobs' }, { name: 'runs' }, { name: 'instances' }, { name: 'users' }, { name: 'tokens' }, { name: 'session' }, { name: 'audit' }, { name: 'meta' }],
    paths: {
      '/api/health': {
        get: withRole(null, {
          summary: 'Liveness and database reachability (public: reveals no secrets)',
          operationId: 'getHealth',
          tags: ['meta'],
          responses: {
            '200': { description: 'Healthy', content: jsonContent(ref('Health')) },
            '503': { description: 'Degraded: the database is unreachable', content: jsonContent(ref('Health')) },
          },
        }),
      },
      '/api/openapi.json': {
        get: withRole('viewer', {
          summary: 'This document',
          operationId: 'getOpenApi',
          tags: ['meta'],
          responses: { '200': { description: 'OpenAPI 3.1 document', content: jsonContent({ type: 'object' }) }, '401': commonErrors['401'] },
        }),
      },
      '/api/events': {
        get: withRole('viewer', {
          summary: 'Server-sent events: `event: runs|jobs|instances` whenever that part of the data changed (no payload; re-read what you show)',
          operationId: 'streamEvents',
          tags: ['meta'],
          responses: {
            '200': { description: 'An endless event stream (hello first, then changes, keepalive comments every 15 s)', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...commonErrors,
          },
        }),
      },
      '/api/jobs': {
        get: withRole('viewer', {
          summary: 'List jobs (by name), paginated',
          operationId: 'listJobs',
          tags: ['jobs'],
          parameters: queryParameters(JobListQuerySchema),
          responses: { '200': { description: 'A page of jobs', content: jsonContent(ref('JobList')) }, ...invalidInput, ...commonErrors },
        }),
        post: withRole('operator', {
          summary: 'Create a job',
          operationId: 'createJob',
          tags: ['jobs'],
          requestBody: { required: true, content: jsonContent(ref('JobCreate')) },
          responses: {
            '201': { description: 'Created', content: jsonContent(ref('Job')), headers: { Location: { schema: { type: 'string' } } } },
            ...invalidInput,
            '409': errorResponse('Another job has this name'),
            '413': errorResponse('Body larger than 1 MB'),
            ...commonErrors,
          },
        }),
      },
      '/api/jobs/{id}': {
        get: withRole('viewer', {
          summary: 'Get a job',
          operationId: 'getJob',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '200': jobResponse, ...notFound, ...commonErrors },
        }),
        patch: withRole('operator', {
          summary: 'Change a job (any subset of the fields; the result is validated as a whole)',
          operationId: 'updateJob',
          tags: ['jobs'],
          parameters: [idParameter],
          requestBody: { required: true, content: jsonContent(ref('JobUpdate')) },
          responses: {
            '200': jobResponse,
            ...invalidInput,
            ...notFound,
            '409': errorResponse('Another job has this name'),
            '413': errorResponse('Body larger than 1 MB'),
            ...commonErrors,
          },
        }),
        delete: withRole('operator', {
          summary: 'Delete a job and its runs',
          operationId: 'deleteJob',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '204': { description: 'Deleted' }, ...notFound, ...commonErrors },
        }),
      },
      '/api/jobs/{id}/pause': action('Pause a job (no runs until resumed)', 'pauseJob'),
      '/api/jobs/{id}/resume': action('Resume a paused job (occurrences missed while paused are not owed)', 'resumeJob'),
      '/api/jobs/{id}/run': {
        post: withRole('operator', {
          summary: 'Run the job once now, outside its schedule',
          operationId: 'runJobNow',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '202': { description: 'Queued', content: jsonContent(ref('RunNow')) }, ...notFound, ...commonErrors },
        }),
      },
      '/api/jobs/{id}/runs': {
        get: withRole('viewer', {
          summary: "A job's runs, newest first, paginated",
          operationId: 'listJobRuns',
          tags: ['runs'],
          parameters: [idParameter, ...queryParameters(RunListQuerySchema)],
          responses: { '200': { description: 'A page of runs', content: jsonContent(ref('RunList')) }, ...invalidInput, ...notFound, ...commonErrors },
        }),
      },
      '/api/instances': {
        get: withRole('viewer', {
          summary: 'Every app instance with its last heartbeat',
          operationId: 'listInstances',
          tags: ['instances'],
          responses: { '200': { description: 'Instances', content: jsonContent(ref('InstanceList')) }, ...commonErrors },
        }),
      },
      '/api/users': {
        get: withRole('admin', {
          summary: 'Every user with role and state',
          operationId: 'listUsers',
          tags: ['users'],
          responses: { '200': { description: 'Users', content: jsonContent(ref('UserList')) }, ...commonErrors },
        }),
        post: withRole('admin', {
          summary: 'Create a user with a role and an initial password',
          operationId: 'createUser',
          tags: ['users'],
          requestBody: { required: true, content: jsonContent(ref('UserCreate')) },
          responses: {
            '201': { ...userResponse, headers: { Location: { schema: { type: 'string' } } } },
            ...invalidInput,
            '409': errorResponse('Another user has this username (case-insensitive)'),
            '413': errorResponse('Body larger than 1 MB'),
            ...commonErrors,
          },
        }),
      },
      '/api/users/{id}': {
        patch: withRole('admin', {
          summary: "Change a user's role, disable or enable, or reset the password (also lifts a lock-out); any change ends the user's sessions",
          operationId: 'updateUser',
          tags: ['users'],
          parameters: [idOf('User')],
          requestBody: { required: true, content: jsonContent(ref('UserUpdate')) },
          responses: {
            '200': userResponse,
            ...invalidInput,
            ...notFoundOf('user'),
            '409': errorResponse('The last enabled admin cannot be demoted or disabled'),
            '413': errorResponse('Body larger than 1 MB'),
            ...commonErrors,
          },
        }),
        delete: withRole('admin', {
          summary: 'Delete a user',
          operationId: 'deleteUser',
          tags: ['users'],
          parameters: [idOf('User')],
          responses: { '204': { description: 'Deleted' }, ...notFoundOf('user'), '409': errorResponse('The last enabled admin cannot be deleted'), ...commonErrors },
        }),
      },
      '/api/users/{id}/sessions': {
        delete: withRole('admin', {
          summary: 'End every session of the user',
          operationId: 'revokeUserSessions',
          tags: ['users'],
          parameters: [idOf('User')],
          responses: { '200': { description: 'How many sessions ended', content: jsonContent(ref('SessionsRevoked')) }, ...notFoundOf('user'), ...commonErrors },
        }),
      },
      '/api/tokens': {
        get: withRole('admin', {
          summary: 'Every API token (revoked ones included), without secrets',
          operationId: 'listTokens',
          tags: ['tokens'],
          responses: { '200': { description: 'Tokens', content: jsonContent(ref('TokenList')) }, ...commonErrors },
        }),
        post: withRole('admin', {
          summary: 'Create an API token acting with a role; the secret is in this answer only',
          operationId: 'createToken',
          tags: ['tokens'],
          requestBody: { required: true, content: jsonContent(ref('TokenCreate')) },
          responses: {
            '201': { description: 'The token with its secret', content: jsonContent(ref('TokenCreated')) },
            ...invalidInput,
            '413': errorResponse('Body larger than 1 MB'),
            ...commonErrors,
          },
        }),
      },
      '/api/tokens/{id}': {
        delete: withRole('admin', {
          summary: 'Revoke a token (kept, with revokedAt, for the record); it gets 401 from then on',
          operationId: 'revokeToken',
          tags: ['tokens'],
          parameters: [idOf('Token')],
          responses: { '204': { description: 'Revoked' }, ...notFoundOf('token (or it is already revoked)'), ...commonErrors },
        }),
      },
      '/api/session': {
        get: withRole('viewer', {
          summary: "Who am I: the caller's kind, name and role",
          operationId: 'getSession',
          tags: ['session'],
          responses: { '200': { description: 'The caller', content: jsonContent(ref('WhoAmI')) }, ...commonErrors },
        }),
        post: withRole(null, {
          summary: 'Sign in (JSON): sets the session cookie; same limits, lock-out and audit as the form; cross-origin posts are refused',
          operationId: 'createSession',
          tags: ['session'],
          requestBody: { required: true, content: jsonContent(ref('SessionCreate')) },
          responses: {
            '200': { description: 'Signed in; the cookie is in Set-Cookie', content: jsonContent(ref('Session')), headers: { 'Set-Cookie': { schema: { type: 'string' } } } },
            '400': errorResponse('Username or password missing, or not JSON'),
            '401': errorResponse('Wrong username or password (also for disabled and locked accounts)'),
            '403': errorResponse('Cross-origin request'),
            '429': errorResponse('Too many failed attempts from this address'),
            '500': commonErrors['500'],
            '503': commonErrors['503'],
          },
        }),
        delete: withRole('viewer', {
          summary: 'Sign out: the session is revoked on the server and the cookie cleared',
          operationId: 'deleteSession',
          tags: ['session'],
          responses: { '204': { description: 'Signed out' }, ...commonErrors },
        }),
      },
      '/api/audit': {
        get: withRole('admin', {
          summary: 'The audit log, newest first, filtered and paginated (read-only: no route edits or deletes entries)',
          operationId: 'listAudit',
          tags: ['audit'],
          parameters: auditQuery,
          responses: { '200': { description: 'A page of entries', content: jsonContent(ref('AuditList')) }, ...invalidInput, ...commonErrors },
        }),
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Dashboard session (same origin only for changes)' },
      },
      schemas: {
        JobCreate: jobCreate,
        JobUpdate: jobUpdate,
        ...payloadSchemas,
        Job: schemaOf(JobJsonSchema, 'output'),
        JobList: schemaOf(JobListJsonSchema, 'output'),
        RunList: schemaOf(RunListJsonSchema, 'output'),
        RunNow: schemaOf(RunNowJsonSchema, 'output'),
        InstanceList: schemaOf(InstanceListJsonSchema, 'output'),
        Health: schemaOf(HealthJsonSchema, 'output'),
        Error: schemaOf(ErrorJsonSchema, 'output'),
        ValidationError: schemaOf(ValidationErrorJsonSchema, 'output'),
        UserCreate: schemaOf(UserCreateSchema, 'input'),
        UserUpdate: schemaOf(UserUpdateSchema, 'input'),
        User: schemaOf(UserJsonSchema, 'output'),
        UserList: schemaOf(UserListJsonSchema, 'output'),
        SessionsRevoked: schemaOf(SessionsRevokedJsonSchema, 'output'),
        TokenCreate: schemaOf(TokenCreateSchema, 'input'),
        TokenCreated: schemaOf(TokenCreatedJsonSchema, 'output'),
        TokenList: schemaOf(TokenListJsonSchema, 'output'),
        SessionCreate: schemaOf(SessionCreateSchema, 'input'),
        Session: schemaOf(SessionJsonSchema, 'output'),
        WhoAmI: schemaOf(WhoAmIJsonSchema, 'output'),
        AuditList: schemaOf(AuditListJsonSchema, 'output'),
      },
    },
  };
}

let cached: JsonSchema | null = null;

/** Generated from the same zod schemas the handlers validate with, so it cannot drift from them. */
export function openApiDocument(): JsonSchema {
  cached ??= buildDocument();
  return cached;
}
