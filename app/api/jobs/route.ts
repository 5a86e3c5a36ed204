import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, parseQuery, readJsonObject } from '@/lib/api/http';
import { JobListQuerySchema } from '@/lib/validation/job';
import { jobCreatedJson, jobListItemJson } from '@/lib/api/serialize';
import { createJobWithSigningSecret, listJobs } from '@/lib/services/jobs';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(async ({ request }) => {
  const query = parseQuery(JobListQuerySchema, request);
  const page = await listJobs(query);
  return json({ jobs: page.items.map(jobListItemJson), nextCursor: page.nextCursor });
});

export const POST = apiRoute(async ({ request, actor }) => {
  requireRole(actor.principal, 'operator');
  const { job, signingSecret } = await createJobWithSigningSecret(await readJsonObject(request), actor);
  return json(jobCreatedJson(job, signingSecret), 201, { location: `/api/jobs/${job.id}` });
});

const notAllowed = methodNotAllowed(['GET', 'POST']);
export { notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
