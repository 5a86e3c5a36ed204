import { checkHealth, publicHealth } from '@/lib/api/health';
import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { hasApiCredentials, requireApiAuth } from '@/lib/auth/api';

export const dynamic = 'force-dynamic';

/**
 * Public for load balancers: 200 when the database answers, 503 otherwise, with only `status`. The details (instance,
 * store, scheduler, dispatch, the error) name hosts, process ids and the data directory: they go only to a caller
 * with credentials (a session or a token, any role), checked as on every other route, so wrong ones are a 401.
 */
export const GET = apiRoute(
  async ({ request }) => {
    const caller = hasApiCredentials(request) ? await requireApiAuth(request) : null;
    const health = await checkHealth();
    return json(caller ? health : publicHealth(health), health.status === 'ok' ? 200 : 503);
  },
  { public: true },
);

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
