import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { instanceJson } from '@/lib/api/serialize';
import { listInstances } from '@/lib/services/instances';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(async () => {
  const { instances } = await listInstances();
  return json({ instances: instances.map(instanceJson) });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
