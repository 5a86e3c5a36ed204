import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { revokeSessions } from '@/lib/services/users';

export const dynamic = 'force-dynamic';

/** Ends every session of the user. */
export const DELETE = apiRoute<{ id: string }>(async ({ params, actor }) => json({ revoked: await revokeSessions(actor, params.id) }));

const notAllowed = methodNotAllowed(['DELETE']);
export { notAllowed as GET, notAllowed as POST, notAllowed as PUT, notAllowed as PATCH };
