import 'server-only';
import { RunDetailJsonSchema, RunHistoryQuerySchema } from '../../validation/run';
import {
  commonErrors,
  errorResponse,
  invalidInput400,
  jsonContent,
  queryParameters,
  ref,
  schemaOf,
  withRole,
  type ApiSection,
} from './parts';

const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Run id' };

/** The run history across jobs (the /runs page's filters) and one run with its attempts (the run page). */
export function runsSection(): ApiSection {
  return {
    paths: {
      '/api/runs': {
        get: withRole('viewer', {
          summary: 'Runs of every job, newest first by the time they were due, filtered and paginated',
          description:
            'The filters of the run history page, each narrowing the list: job, q (job-name search), status, instance, and the due-time window [from, to). `to` must not be before `from` (a 400 on `to`). Keyset paging: pass back nextCursor; a page continues where the previous one ended even while new runs are recorded. A missed record may stand for a range of occurrences (rangeEnd, rangeCount).',
          operationId: 'listRuns',
          tags: ['runs'],
          parameters: queryParameters(RunHistoryQuerySchema),
          responses: {
            '200': { description: 'A page of runs', content: jsonContent(ref('RunList')) },
            '400': invalidInput400(
              'Invalid query parameters (a job that is not an id, an unknown status, a bad date or cursor, to before from), with one issue per parameter',
            ),
            ...commonErrors,
          },
        }),
      },
      '/api/runs/{id}': {
        get: withRole('viewer', {
          summary: 'A run with every attempt (retried or taken over) and its output',
          operationId: 'getRun',
          tags: ['runs'],
          parameters: [idParameter],
          responses: {
            '200': { description: 'The run', content: jsonContent(ref('RunDetail')) },
            '404': errorResponse('No run with this id (malformed ids included)'),
            ...commonErrors,
          },
        }),
      },
    },
    schemas: { RunDetail: schemaOf(RunDetailJsonSchema, 'output') },
  };
}
