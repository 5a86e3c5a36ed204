import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { revealChannelSigningSecret } from '@/lib/services/channels';

export const dynamic = 'force-dynamic';

/** A webhook channel's signing secret in clear (a POST: audited, and no cache or prefetch should ever hold it). */
export const POST = apiRoute<{ id: string }>(async ({ params, actor }) =>
  json({ signingSecret: await revealChannelSigningSecret(actor, params.id) }),
);

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
