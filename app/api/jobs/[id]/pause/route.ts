import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { jobJson } from '@/lib/api/serialize';
import { getJob, pauseJob } from '@/lib/services/jobs';

export const dynamic = 'force-dynamic';

/** Body (optional): { "note": "why" }. No body pauses without a note. */
export const POST = apiRoute<{ id: string }>(async ({ request, params, actor }) => {
  requireRole(actor.principal, 'operator');
  // Unknown id first: a pause of a job that does not exist is 404 whatever the body says.
  await getJob(params.id);
  return json(jobJson(await pauseJob(params.id, actor, await readJsonObject(request, { optional: true }))));
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
