import { apiRoute, json } from '@/lib/api/http';

export const dynamic = 'force-dynamic';

/** Unknown /api paths answer JSON, not the HTML 404 page (after auth: no probing without credentials). */
const notFound = apiRoute<{ path: string[] }>(async ({ request }) =>
  json({ error: `no such endpoint: ${new URL(request.url).pathname}` }, 404),
);
export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE };
