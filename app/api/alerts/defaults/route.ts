import { requireRole } from '@/lib/auth/principal';
import { apiRoute, json, methodNotAllowed, readJsonObject } from '@/lib/api/http';
import { getAlertDefaults, setAlertDefaults } from '@/lib/services/alert-rules';

export const dynamic = 'force-dynamic';

/** The default alert rules (for every job, or the jobs with a tag): any role reads them. */
export const GET = apiRoute(async ({ actor }) => json({ rules: await getAlertDefaults(actor) }));

/** Replaces them (admin, audited): { "rules": [...] }. */
export const PUT = apiRoute(async ({ request, actor }) => {
  requireRole(actor.principal, 'admin');
  return json({ rules: await setAlertDefaults(await readJsonObject(request), actor) });
});

const notAllowed = methodNotAllowed(['GET', 'PUT']);
export { notAllowed as POST, notAllowed as PATCH, notAllowed as DELETE };
