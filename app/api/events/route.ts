import { apiRoute, methodNotAllowed, parseQuery } from '@/lib/api/http';
import { subscribe, type LiveEvent } from '@/lib/services/live';
import { EventsQuerySchema } from '@/lib/validation/events';

export const dynamic = 'force-dynamic';

/** Keeps proxies from closing an idle stream, and lets the server notice a gone client. */
const KEEPALIVE_MS = 15_000;

/**
 * Server-sent events: `event: runs|jobs|instances` whenever that part of the data changed (no payload;
 * the page re-reads what it shows); with `?run=<id>` also `event: output` (data {"runId"}) when that run has new live
 * output. Auth as for every /api route (session cookie or bearer token).
 */
export const GET = apiRoute(async ({ request }) => {
  const query = parseQuery(EventsQuerySchema, request);
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup();
        }
      };
      // retry: how long the browser waits before reconnecting after a drop.
      send(`retry: 2000\nevent: hello\ndata: {}\n\n`);
      const unsubscribe = subscribe(
        (topic: LiveEvent, runId?: string) => send(`event: ${topic}\ndata: ${topic === 'output' ? JSON.stringify({ runId }) : '{}'}\n\n`),
        { run: query.run },
      );
      const keepalive = setInterval(() => send(`: keepalive\n\n`), KEEPALIVE_MS);
      let done = false;
      cleanup = () => {
        if (done) return;
        done = true;
        clearInterval(keepalive);
        unsubscribe();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      request.signal.addEventListener('abort', () => cleanup(), { once: true });
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      // nginx and friends would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    },
  });
});

const notAllowed = methodNotAllowed(['GET']);
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
