import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, noContent, readJsonObject } from '@/lib/api/http';
import { userJson } from '@/lib/api/serialize';
import { deleteUser, updateUser } from '@/lib/services/users';

export const dynamic = 'force-dynamic';

type Params = { id: string };

/** `{ role?, disabled?, password? }`; any change ends the user's sessions. */
export const PATCH = apiRoute<Params>(async ({ request, params, actor }) => {
  requireRole(actor.principal, 'admin');
  return json(userJson(await updateUser(actor, params.id, await readJsonObject(request))));
});

export const DELETE = apiRoute<Params>(async ({ params, actor }) => {
  await deleteUser(actor, params.id);
  return noContent();
});

const notAllowed = methodNotAllowed(['PATCH', 'DELETE']);
export { notAllowed as GET, notAllowed as POST, notAllowed as PUT };
