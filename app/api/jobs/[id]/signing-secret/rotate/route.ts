import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { signingSecretJson } from '@/lib/api/serialize';
import { getJob } from '@/lib/services/jobs';
import { rotateSigningSecret } from '@/lib/services/signing-secrets';

export const dynamic = 'force-dynamic';

/** Replaces an http job's signing secret; body `{ graceSeconds? }` or none. The new secret is in this answer only. */
export const POST = apiRoute<{ id: string }>(async ({ request, params, actor }) => {
  requireRole(actor.principal, 'operator');
  // Unknown id first: a rotation of a job that does not exist is 404 whatever the body says.
  await getJob(params.id);
  const body = await readJsonObject(request, { optional: true });
  return json(signingSecretJson(await rotateSigningSecret(params.id, body, actor)));
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
