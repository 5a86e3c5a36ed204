import { apiRoute, json, methodNotAllowed } from '@/lib/api/http';
import { openApiDocument } from '@/lib/api/openapi';

export const dynamic = 'force-dynamic';

export const GET = apiRoute(async () => json(openApiDocument()));

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
