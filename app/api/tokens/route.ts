import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { tokenJson } from '@/lib/api/serialize';
import { createToken, listTokens } from '@/lib/services/tokens';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(async ({ actor }) => json({ tokens: (await listTokens(actor)).map(tokenJson) }));

/** `{ name, role }` -> the token with its secret, shown this once. */
export const POST = apiRoute(async ({ request, actor }) => {
  const { token, secret } = await createToken(actor, await readJsonObject(request));
  return json({ ...tokenJson(token), secret }, 201);
});

const notAllowed = methodNotAllowed(['GET', 'POST']);
export { notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
