import 'server-only';
import { RunCancelJsonSchema, RunCancelSchema } from '../../validation/run';
import {
  commonErrors,
  errorResponse,
  idOf,
  invalidInput,
  jsonContent,
  notFoundOf,
  ref,
  schemaOf,
  tooLarge,
  withRole,
  type ApiSection,
} from './parts';

/** POST /api/runs/{id}/cancel (issue #14, item 4). */
export function runCancelSection(): ApiSection {
  return {
    paths: {
      '/api/runs/{id}/cancel': {
        post: withRole('operator', {
          summary: 'Cancel a run: a claimed or retrying run is closed at once; a running one is stopped on its instance',
          description:
            "A claimed (not yet started) or retrying run is closed with status cancelled at once: it never starts, or gets no further attempt. A running run's handler is aborted on whichever instance runs it, within 2 s (the request travels through the database), and that instance records status cancelled; a handler that finished first keeps its own outcome. The run's `cancel` says who asked, when and why. A run that has ended is a 409 and nothing changes.",
          operationId: 'cancelRun',
          tags: ['runs'],
          parameters: [idOf('Run')],
          requestBody: { required: false, content: jsonContent(ref('RunCancel')) },
          responses: {
            '200': { description: 'Cancelled, or the cancel requested (see outcome)', content: jsonContent(ref('RunCancelled')) },
            ...invalidInput,
            ...notFoundOf('run'),
            '409': errorResponse(
              'The run has already ended (succeeded, failed, timed out, skipped, missed, abandoned, unknown or cancelled): nothing changed',
            ),
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      RunCancel: schemaOf(RunCancelSchema, 'input'),
      RunCancelled: schemaOf(RunCancelJsonSchema, 'output'),
    },
  };
}
