import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { ValidationError, toFieldIssues } from '../errors';
import { getStore } from '../store';
import type { Alert, Page } from '../store/types';
import { AlertQuerySchema, type AlertQuery } from '../validation/alert';

/** The alerts, newest first, filtered (status, event, job) and paged: any signed-in role (they name no secret). */
export async function listAlerts(actor: Actor, input: AlertQuery): Promise<Page<Alert>> {
  requireRole(actor.principal, 'viewer');
  const parsed = AlertQuerySchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues), 'invalid alert filter');
  const q = parsed.data;
  const store = await getStore();
  return store.listAlerts({ limit: q.limit, cursor: q.cursor, status: q.status, event: q.event, jobId: q.jobId });
}

/** A job's latest alerts (its page's section). */
export async function latestAlertsOfJob(actor: Actor, jobId: string, limit = 10): Promise<Alert[]> {
  return (await listAlerts(actor, { jobId, limit })).items;
}
