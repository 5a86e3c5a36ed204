import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { runJobNow } from '@/lib/services/jobs';

export const dynamic = 'force-dynamic';

/** 202: the run is queued; it shows up in /runs once an instance picks it up. */
export const POST = apiRoute<{ id: string }>(async ({ params, actor }) => {
  requireRole(actor.principal, 'operator');
  const { job, scheduledFor } = await runJobNow(params.id, actor);
  return json({ jobId: job.id, scheduledFor: scheduledFor.toISOString() }, 202);
});

const notAllowed = methodNotAllowed(['POST']);
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
