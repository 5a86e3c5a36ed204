import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { alertJson } from '@/lib/api/serialize';
import { listAlerts } from '@/lib/services/alerts';

export const dynamic = 'force-dynamic';

/** Any role. Filters: status, event, jobId; keyset paging with cursor, newest first. Read-only. */
export const GET = apiRoute(async ({ request, actor }) => {
  const query: Record<string, string> = {};
  for (const [key, value] of new URL(request.url).searchParams) if (value !== '') query[key] = value;
  const page = await listAlerts(actor, query);
  return json({ alerts: page.items.map(alertJson), nextCursor: page.nextCursor });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
