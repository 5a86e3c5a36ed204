import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { testChannel } from '@/lib/services/channels';

export const dynamic = 'force-dynamic';

/** Sends a test alert now: 200 {ok: true} when the channel accepted it, 502 {ok: false, error} when it did not. */
export const POST = apiRoute<{ id: string }>(async ({ params, actor }) => {
  const result = await testChannel(actor, params.id);
  return json(result, result.ok ? 200 : 502);
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
