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
  const jobCreate = schemaOf(JobCreateSchema, 'input') as { properties: Record<string, JsonSchema>; required: string[] };
  const jobUpdate = schemaOf(JobUpdateSchema, 'input') as { properties: Record<string, JsonSchema> };
  // One tag schema, referenced: its letters-and-digits pattern spelled out portably is long (./patterns.ts).
  const tag = (jobCreate.properties.tags as { items: JsonSchema }).items;
  for (const body of [jobCreate, jobUpdate]) body.properties.tags = { ...body.properties.tags, items: ref('Tag') };
  const payloadName = (type: string) => `Payload_${type}`;
  const payloadSchemas = Object.fromEntries(
    jobTypes.map((t) => [
      payloadName(t.name),
      { ...schemaOf(t.payloadSchema, 'input'), description: t.signsDeliveries ? `${t.description} ${DELIVERY_HELP}` : t.description },
    ]),
  );
  // The body of a new job, one variant per type, told apart by `type` (the handlers check the payload against the
  // type's own schema: a refinement, invisible to JSON Schema, so the variants spell it out). A payload is required
  // where the type's schema refuses the default {}.
  const createName = (type: string) => `JobCreate_${type}`;
  const createVariants = Object.fromEntries(
    jobTypes.map((t) => [
      createName(t.name),
      {
        ...jobCreate,
        description: `A new job of type ${t.name}. ${t.description}`,
        properties: {
          ...jobCreate.properties,
          type: { ...jobCreate.properties.type, const: t.name },
          payload: { ...ref(payloadName(t.name)), description: `The ${t.name} job's parameters` },
        },
        required: [...new Set([...jobCreate.required, 'type', ...(t.payloadSchema.safeParse({}).success ? [] : ['payload'])])],
      },
    ]),
  );
  const jobCreateBody = {
    description: 'A new job; `type` decides the schema of `payload`',
    oneOf: jobTypes.map((t) => ref(createName(t.name))),
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(jobTypes.map((t) => [t.name, `#/components/schemas/${createName(t.name)}`])),
    },
  };
  // A change: type and payload together (one variant per type, the payload checked against it), or neither.
  const { type: _type, payload: _payload, ...updateFields } = jobUpdate.properties;
  const updateName = (type: string) => `JobUpdate_${type}`;
  const updateVariants = {
    ...Object.fromEntries(
      jobTypes.map((t) => [
        updateName(t.name),
        {
          ...jobUpdate,
          description: `A change that makes (or keeps) the job of type ${t.name}, with its payload`,
          properties: {
            ...jobUpdate.properties,
            type: { ...jobUpdate.properties.type, const: t.name },
            payload: { ...ref(payloadName(t.name)), description: `The ${t.name} job's parameters, whole` },
          },
          required: ['type', 'payload'],
        },
      ]),
    ),
    JobUpdate_fields: {
      ...jobUpdate,
      description: 'A change that keeps the type and the payload',
      properties: updateFields,
    },
  };
  const jobUpdateBody = {
    description: 'Any subset of the fields but `paused`; `type` and `payload` together or not at all',
    oneOf: [...jobTypes.map((t) => ref(updateName(t.name))), ref('JobUpdate_fields')],
  };

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
      JobCreate: jobCreateBody,
      ...createVariants,
      JobUpdate: jobUpdateBody,
      ...updateVariants,
      JobPause: schemaOf(JobPauseSchema, 'input'),
      Tag: tag,
      ...payloadSchemas,
      Job: schemaOf(JobJsonSchema, 'output'),
      JobCreated: schemaOf(JobCreatedJsonSchema, 'output'),
      JobList: schemaOf(JobListJsonSchema, 'output'),
      RunList: schemaOf(RunListJsonSchema, 'output'),
      RunNow: schemaOf(RunNowJsonSchema, 'output'),
    },
  };
}
