import { checkHealth } from '@/lib/api/health';
import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';

export const dynamic = 'force-dynamic';

/** Public for load balancers: 200 when the database answers, 503 otherwise. */
export const GET = apiRoute(
  async () => {
    const health = await checkHealth();
    return json(health, health.status === 'ok' ? 200 : 503);
  },
  { public: true },
);

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
