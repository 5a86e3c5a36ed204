import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { userJson } from '@/lib/api/serialize';
import { createUser, listUsers } from '@/lib/services/users';

export const dynamic = 'force-dynamic';

/** Admins only (checked in the service). Password hashes never leave the server. */
export const GET = apiRoute(async ({ actor }) => json({ users: (await listUsers(actor)).map(userJson) }));

export const POST = apiRoute(async ({ request, actor }) => {
  const user = await createUser(actor, await readJsonObject(request));
  return json(userJson(user), 201, { location: `/api/users/${user.id}` });
});

const notAllowed = methodNotAllowed(['GET', 'POST']);
export { notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
