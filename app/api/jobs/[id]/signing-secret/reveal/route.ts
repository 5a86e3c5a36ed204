import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { signingSecretJson } from '@/lib/api/serialize';
import { revealSigningSecret } from '@/lib/services/signing-secrets';

export const dynamic = 'force-dynamic';

/** An http job's signing secret in clear (a POST: it is audited, and no cache or prefetch should ever hold it). */
export const POST = apiRoute<{ id: string }>(async ({ params, actor }) => {
  requireRole(actor.principal, 'operator');
  return json(signingSecretJson(await revealSigningSecret(params.id, actor)));
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
