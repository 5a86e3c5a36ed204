import { apiRoute, json, methodNotAllowed, parseQuery } from '@/lib/api/http';
import { runOutputJson } from '@/lib/api/serialize';
import { getRunOutput } from '@/lib/services/runs';
import { RunOutputQuerySchema } from '@/lib/validation/run';

export const dynamic = 'force-dynamic';

/**
 * A run's live output while it runs (the chunks after `after`), its final output once it ended. Any role: the output
 * is what the run page shows. New chunks are announced by GET /api/events?run=<id> (`event: output`).
 */
export const GET = apiRoute<{ id: string }>(async ({ request, params }) => {
  const query = parseQuery(RunOutputQuerySchema, request);
  return json(runOutputJson(await getRunOutput(params.id, query.after)));
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
