import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, noContent, readJsonObject } from '@/lib/api/http';
import { jobJson } from '@/lib/api/serialize';
import { deleteJob, getJob, updateJob } from '@/lib/services/jobs';
import { ValidationError } from '@/lib/errors';
import { typeWithPayloadIssue } from '@/lib/validation/job';

export const dynamic = 'force-dynamic';

type Params = { id: string };

export const GET = apiRoute<Params>(async ({ params }) => json(jobJson(await getJob(params.id))));

export const PATCH = apiRoute<Params>(async ({ request, params, actor }) => {
  requireRole(actor.principal, 'operator');
  // Unknown id first: a PATCH to a job that does not exist is 404 whatever the body says.
  await getJob(params.id);
  const body = await readJsonObject(request);
  const pairing = typeWithPayloadIssue(body);
  if (pairing) throw new ValidationError([pairing]);
  return json(jobJson(await updateJob(params.id, body, actor)));
});

export const DELETE = apiRoute<Params>(async ({ params, actor }) => {
  requireRole(actor.principal, 'operator');
  await deleteJob(params.id, actor);
  return noContent();
});

const notAllowed = methodNotAllowed(['GET', 'PATCH', 'DELETE']);
export { notAllowed as POST, notAllowed as PUT };
