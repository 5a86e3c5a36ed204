import 'server-only';
import { z } from 'zod';
import { jobTypes } from '../jobs/registry';
import { JobCreateSchema, JobUpdateSchema } from '../validation/job';
import { SESSION_COOKIE } from '../auth/token';
import {
  ErrorJsonSchema,
  HealthJsonSchema,
  InstanceListJsonSchema,
  JobJsonSchema,
  JobListJsonSchema,
  JobListQuerySchema,
  RunListJsonSchema,
  RunListQuerySchema,
  RunNowJsonSchema,
  ValidationErrorJsonSchema,
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
    post: {
      summary,
      operationId,
      tags: ['jobs'],
      parameters: [idParameter],
      responses: { '200': jobResponse, ...notFound, ...commonErrors },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Cronplane API',
      version: '1.0.0',
      description:
        'Manage scheduled jobs and inspect their runs. Authenticate with `Authorization: Bearer <API_TOKEN>` (or a dashboard session cookie). Errors are JSON: {"error": "..."}, plus "issues" for invalid input.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    tags: [{ name: 'jobs' }, { name: 'runs' }, { name: 'instances' }, { name: 'meta' }],
    paths: {
      '/api/health': {
        get: {
          summary: 'Liveness and database reachability (public: reveals no secrets)',
          operationId: 'getHealth',
          tags: ['meta'],
          security: [],
          responses: {
            '200': { description: 'Healthy', content: jsonContent(ref('Health')) },
            '503': { description: 'Degraded: the database is unreachable', content: jsonContent(ref('Health')) },
          },
        },
      },
      '/api/openapi.json': {
        get: {
          summary: 'This document',
          operationId: 'getOpenApi',
          tags: ['meta'],
          responses: { '200': { description: 'OpenAPI 3.1 document', content: jsonContent({ type: 'object' }) }, '401': commonErrors['401'] },
        },
      },
      '/api/jobs': {
        get: {
          summary: 'List jobs (by name), paginated',
          operationId: 'listJobs',
          tags: ['jobs'],
          parameters: queryParameters(JobListQuerySchema),
          responses: { '200': { description: 'A page of jobs', content: jsonContent(ref('JobList')) }, ...invalidInput, ...commonErrors },
        },
        post: {
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
        },
      },
      '/api/jobs/{id}': {
        get: {
          summary: 'Get a job',
          operationId: 'getJob',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '200': jobResponse, ...notFound, ...commonErrors },
        },
        patch: {
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
        },
        delete: {
          summary: 'Delete a job and its runs',
          operationId: 'deleteJob',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '204': { description: 'Deleted' }, ...notFound, ...commonErrors },
        },
      },
      '/api/jobs/{id}/pause': action('Pause a job (no runs until resumed)', 'pauseJob'),
      '/api/jobs/{id}/resume': action('Resume a paused job (occurrences missed while paused are not owed)', 'resumeJob'),
      '/api/jobs/{id}/run': {
        post: {
          summary: 'Run the job once now, outside its schedule',
          operationId: 'runJobNow',
          tags: ['jobs'],
          parameters: [idParameter],
          responses: { '202': { description: 'Queued', content: jsonContent(ref('RunNow')) }, ...notFound, ...commonErrors },
        },
      },
      '/api/jobs/{id}/runs': {
        get: {
          summary: "A job's runs, newest first, paginated",
          operationId: 'listJobRuns',
          tags: ['runs'],
          parameters: [idParameter, ...queryParameters(RunListQuerySchema)],
          responses: { '200': { description: 'A page of runs', content: jsonContent(ref('RunList')) }, ...invalidInput, ...notFound, ...commonErrors },
        },
      },
      '/api/instances': {
        get: {
          summary: 'Every app instance with its last heartbeat',
          operationId: 'listInstances',
          tags: ['instances'],
          responses: { '200': { description: 'Instances', content: jsonContent(ref('InstanceList')) }, ...commonErrors },
        },
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
