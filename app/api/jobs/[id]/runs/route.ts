import { apiRoute, json, methodNotAllowed, parseQuery } from '@/lib/api/http';
import { RunListQuerySchema } from '@/lib/validation/run';
import { runJson } from '@/lib/api/serialize';
import { listJobRuns } from '@/lib/services/jobs';

export const dynamic = 'force-dynamic';

export const GET = apiRoute<{ id: string }>(async ({ request, params }) => {
  const query = parseQuery(RunListQuerySchema, request);
  const page = await listJobRuns(params.id, query);
  return json({ runs: page.items.map(runJson), nextCursor: page.nextCursor });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
