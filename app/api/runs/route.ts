import { apiRoute, json, methodNotAllowed, parseQuery } from '@/lib/api/http';
import { runJson } from '@/lib/api/serialize';
import { listRunsForApi } from '@/lib/services/runs';
import { RunHistoryQuerySchema } from '@/lib/validation/run';

export const dynamic = 'force-dynamic';

/** The run history across every job, newest first: the /runs page's filters (job, q, status, instance, from, to), keyset paging. Any signed-in role. */
export const GET = apiRoute(async ({ request }) => {
  const query = parseQuery(RunHistoryQuerySchema, request);
  const page = await listRunsForApi(query);
  return json({ runs: page.items.map(runJson), nextCursor: page.nextCursor });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
