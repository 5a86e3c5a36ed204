import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { runDetailJson } from '@/lib/api/serialize';
import { getRunWithAttempts } from '@/lib/services/runs';

export const dynamic = 'force-dynamic';

/** A run with every attempt (each with its output) and its webhook-id. Any signed-in role; unknown or malformed id: 404. */
export const GET = apiRoute<{ id: string }>(async ({ params }) => json(runDetailJson(await getRunWithAttempts(params.id))));

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
