import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { auditEntryJson } from '@/lib/api/serialize';
import { listAudit } from '@/lib/services/audit';

export const dynamic = 'force-dynamic';

/** Admins only. Filters: actor, action, targetType, targetId, from, to; keyset paging with cursor. Read-only by design. */
export const GET = apiRoute(async ({ request, actor }) => {
  const query: Record<string, string> = {};
  for (const [key, value] of new URL(request.url).searchParams) if (value !== '') query[key] = value;
  const page = await listAudit(actor, query);
  return json({ entries: page.items.map(auditEntryJson), nextCursor: page.nextCursor });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
