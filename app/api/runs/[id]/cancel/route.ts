import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { runJson } from '@/lib/api/serialize';
import { cancelRun } from '@/lib/services/runs';

export const dynamic = 'force-dynamic';

/** Body (optional): { "reason": "why" }. 200 with { outcome, run }; 404 unknown run; 409 a run that has ended. */
export const POST = apiRoute<{ id: string }>(async ({ request, params, actor }) => {
  requireRole(actor.principal, 'operator');
  const { outcome, run } = await cancelRun(params.id, actor, await readJsonObject(request, { optional: true }));
  return json({ outcome, run: runJson(run) });
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
