import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { createToken, listTokens } from '@/lib/services/tokens';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(async ({ actor }) => json({ tokens: await listTokens(actor) }));

/** `{ name, role }` -> the token with its secret, shown this once. */
export const POST = apiRoute(async ({ request, actor }) => {
  const { token, secret } = await createToken(actor, await readJsonObject(request));
  return json({ ...token, secret }, 201);
});

const notAllowed = methodNotAllowed(['GET', 'POST']);
export { notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
