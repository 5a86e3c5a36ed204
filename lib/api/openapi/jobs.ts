import 'server-only';
import { jobTypes } from '../../jobs/registry';
import {
  JobCreateSchema,
  JobJsonSchema,
  JobListJsonSchema,
  JobListQuerySchema,
  JobPauseSchema,
  JobUpdateSchema,
} from '../../validation/job';
import { RunListJsonSchema, RunListQuerySchema, RunNowJsonSchema } from '../../validation/run';
import { JobCreatedJsonSchema } from '../../validation/signing-secret';
import { DELIVERY_HELP } from './deliveries';
import {
  commonErrors,
  errorResponse,
  invalidInput,
  jsonContent,
  queryParameters,
  ref,
  schemaOf,
  tooLarge,
  withRole,
  type ApiSection,
  type JsonSchema,
} from './parts';

const notFound = { '404': errorResponse('No job with this id (malformed ids included)') };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Job id' };
const jobResponse = { description: 'The job', content: jsonContent(ref('Job')) };

/** A command on one job (resume): no body, the job as it is afterwards. */
const action = (summary: string, operationId: string) => ({
  post: withRole('operator', {
    summary,
    operationId,
    tags: ['jobs'],
    parameters: [idParameter],
    responses: { '200': jobResponse, ...notFound, ...commonErrors },
  }),
});

/** Jobs, their commands and their runs. */
export function jobsSection(): ApiSection {
  const jobCreate = schemaOf(JobCreateSchema, 'input') as { properties: Record<string, JsonSchema> };
  const jobUpdate = schemaOf(JobUpdateSchema, 'input') as { properties: Record<string, JsonSchema> };
  // The type check is a refinement (invisible to JSON Schema): spell the known types out.
  const typeNames = jobTypes.map((t) => t.name);
  const payloadHelp = `Must match the type's payload schema: ${typeNames.map((n) => `${n} -> #/components/schemas/Payload_${n}`).join(', ')}`;
  for (const body of [jobCreate, jobUpdate]) {
    body.properties.type = { ...body.properties.type, enum: typeNames };
    body.properties.payload = { ...body.properties.payload, description: payloadHelp };
  }
  const payloadSchemas = Object.fromEntries(
    jobTypes.map((t) => [
      `Payload_${t.name}`,
      { ...schemaOf(t.payloadSchema, 'input'), description: t.signsDeliveries ? `${t.description} ${DELIVERY_HELP}` : t.description },
    ]),
  );

  return {
    paths: {
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
            '201': {
              description: 'Created; an http job with its signing secret, this once',
              content: jsonContent(ref('JobCreated')),
              headers: { Location: { schema: { type: 'string' } } },
            },
            ...invalidInput,
            '409': errorResponse('Another job has this name'),
            ...tooLarge,
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
            ...tooLarge,
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
      '/api/jobs/{id}/pause': {
        post: withRole('operator', {
          summary: 'Pause a job (no runs until resumed), with an optional note; the job shows who paused it, when and why',
          operationId: 'pauseJob',
          tags: ['jobs'],
          parameters: [idParameter],
          requestBody: { required: false, content: jsonContent(ref('JobPause')) },
          responses: { '200': jobResponse, ...invalidInput, ...notFound, ...tooLarge, ...commonErrors },
        }),
      },
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
          responses: {
            '200': { description: 'A page of runs', content: jsonContent(ref('RunList')) },
            ...invalidInput,
            ...notFound,
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      JobCreate: jobCreate,
      JobUpdate: jobUpdate,
      JobPause: schemaOf(JobPauseSchema, 'input'),
      ...payloadSchemas,
      Job: schemaOf(JobJsonSchema, 'output'),
      JobCreated: schemaOf(JobCreatedJsonSchema, 'output'),
      JobList: schemaOf(JobListJsonSchema, 'output'),
      RunList: schemaOf(RunListJsonSchema, 'output'),
      RunNow: schemaOf(RunNowJsonSchema, 'output'),
    },
  };
}
