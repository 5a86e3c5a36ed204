import 'server-only';
import { RunOutputJsonSchema, RunOutputQuerySchema } from '../../validation/run';
import {
  commonErrors,
  idOf,
  invalidInput400,
  jsonContent,
  notFoundOf,
  queryParameters,
  ref,
  schemaOf,
  withRole,
  type ApiSection,
} from './parts';

/** A run's live output (issue #14): read here, announced by GET /api/events?run=<id>. */
export function runOutputSection(): ApiSection {
  return {
    paths: {
      '/api/runs/{id}/output': {
        get: withRole('viewer', {
          summary: "A run's live output while it runs (chunks after `after`), its final output once it ended",
          description:
            'While the run is claimed, running or waiting to retry (`live`), `chunks` holds its current attempt’s log lines as the instance running it wrote them (about every 500 ms), newest kept within the run output limit; pass the last `seq` you have as `after` to read only what is new, and start again from 0 when `attempt` changes. Once the run ended, `chunks` is empty and `output` is its final excerpt. GET /api/events?run=<id> sends `event: output` when there is more.',
          operationId: 'getRunOutput',
          tags: ['runs'],
          parameters: [idOf('Run'), ...queryParameters(RunOutputQuerySchema)],
          responses: {
            '200': { description: 'The run’s output', content: jsonContent(ref('RunOutput')) },
            '400': invalidInput400('`after` is not a whole number from 0 to 2147483647 (field-level issues)'),
            ...notFoundOf('run'),
            ...commonErrors,
          },
        }),
      },
    },
    schemas: { RunOutput: schemaOf(RunOutputJsonSchema, 'output') },
  };
}
