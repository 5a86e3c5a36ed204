import { apiRoute, methodNotAllowed, noContent } from '@/lib/api/http';
import { revokeToken } from '@/lib/services/tokens';

export const dynamic = 'force-dynamic';

/** Revokes the token (kept, with revokedAt, for the record). */
export const DELETE = apiRoute<{ id: string }>(async ({ params, actor }) => {
  await revokeToken(actor, params.id);
  return noContent();
});

const notAllowed = methodNotAllowed(['DELETE']);
export { notAllowed as GET, notAllowed as POST, notAllowed as PUT, notAllowed as PATCH };
