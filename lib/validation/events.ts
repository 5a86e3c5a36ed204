// The change stream's query (GET /api/events).
import { z } from 'zod';
import { IdSchema } from './id';

/** Query of GET /api/events: optionally a run whose live output to watch. Other parameters are ignored. */
export const EventsQuerySchema = z.object({
  run: IdSchema.optional().describe(
    'A run id: also send `event: output` (data {"runId"}) when that run has new live output (read it with GET /api/runs/{id}/output)',
  ),
});
