import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { jobJson } from '@/lib/api/serialize';
import { resumeJob } from '@/lib/services/jobs';

export const dynamic = 'force-dynamic';

export const POST = apiRoute<{ id: string }>(async ({ params, actor }) => {
  requireRole(actor.principal, 'operator');
  return json(jobJson(await resumeJob(params.id, actor)));
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
