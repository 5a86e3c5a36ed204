/**
 * The chaos harness's HTTP target: records every request as a delivery (arrival, end, how it ended, the
 * Cronplane-* delivery headers of lib/jobs/http.ts) and answers `/hook` after a delay.
 *
 * - `/hook?ms=N`: 200 after N ms.
 * - `/hook?min=A&max=B`: 200 after a delay drawn uniformly from [A, B] ms.
 * - anything else: 404 at once (still recorded).
 *
 * Times are this process's Date.now(); the database runs on the same machine, so they compare with run records.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that reached the receiver. */
export interface Delivery {
  /** Arrival order at the receiver, from 0. */
  seq: number;
  /** Date.now() when the request arrived. */
  arrivedAt: number;
  /** Date.now() when the response finished or the client went away first; null while in flight. */
  endedAt: number | null;
  /** 'response': answered; 'disconnect': the client closed the connection before the answer; null while in flight. */
  ended: 'response' | 'disconnect' | null;
  method: string;
  /** Path and query string. */
  path: string;
  /** Status sent (or that would have been sent). */
  status: number;
  /** How long /hook meant to wait, ms (null for other paths). */
  delayMs: number | null;
  /** The delivery headers; null when a header is missing (a request from something else than Cronplane). */
  jobId: string | null;
  /** Decoded from its percent-encoding. */
  jobName: string | null;
  runId: string | null;
  /** ISO 8601 with ms, as sent. */
  scheduledFor: string | null;
  attempt: number | null;
  trigger: string | null;
}

export interface Receiver {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request so far, in arrival order (live: entries get their end time when they end). */
  readonly deliveries: Delivery[];
  /** Requests not ended yet. */
  inFlight(): number;
  /** Writes the log as JSON lines (one delivery a line). */
  writeJsonl(path: string): void;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Random source for /hook?min=&max= (default Math.random): seeded runs pass their own. */
  random?: () => number;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

function decodeName(value: string | null): string | null {
  if (value === null) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function intOrNull(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** The delay /hook asks for: ms=N, or a draw from [min, max]. */
export function hookDelay(query: URLSearchParams, random: () => number): number {
  const fixed = query.get('ms');
  if (fixed !== null && Number.isFinite(Number(fixed))) return Math.max(0, Number(fixed));
  const min = Number(query.get('min') ?? '0');
  const max = Number(query.get('max') ?? String(min));
  if (!Number.isFinite(min) || !Number.isFinite(max)) return 0;
  const lo = Math.max(0, Math.min(min, max));
  const hi = Math.max(lo, max);
  return Math.round(lo + (hi - lo) * random());
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const random = options.random ?? Math.random;
  const deliveries: Delivery[] = [];
  let open = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const hook = url.pathname === '/hook';
    const delayMs = hook ? hookDelay(url.searchParams, random) : null;
    const delivery: Delivery = {
      seq: deliveries.length,
      arrivedAt: Date.now(),
      endedAt: null,
      ended: null,
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      status: hook ? 200 : 404,
      delayMs,
      jobId: header(req, 'Cronplane-Job-Id'),
      jobName: decodeName(header(req, 'Cronplane-Job-Name')),
      runId: header(req, 'Cronplane-Run-Id'),
      scheduledFor: header(req, 'Cronplane-Scheduled-For'),
      attempt: intOrNull(header(req, 'Cronplane-Attempt')),
      trigger: header(req, 'Cronplane-Trigger'),
    };
    deliveries.push(delivery);
    open++;
    // Assigned once the listeners that clear it are in place.
    // eslint-disable-next-line prefer-const
    let timer: NodeJS.Timeout | undefined;
    const end = (how: 'response' | 'disconnect'): void => {
      if (delivery.ended !== null) return;
      delivery.ended = how;
      delivery.endedAt = Date.now();
      open--;
      if (timer) clearTimeout(timer);
    };
    res.on('finish', () => end('response'));
    // 'close' without 'finish' first: the client went away (killed instance, aborted handler) before the answer.
    res.on('close', () => end(res.writableFinished ? 'response' : 'disconnect'));
    // Drain the body (Cronplane sends none for GET; a POST's must be read for the connection to be reused).
    req.resume();
    if (!hook) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    timer = setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok after ${delayMs} ms`), delayMs ?? 0);
  });
  // Long /hook calls (40 s) must not be cut by the server's own timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    inFlight: () => open,
    writeJsonl(path: string) {
      writeFileSync(path, deliveries.map((d) => JSON.stringify(d)).join('\n') + (deliveries.length ? '\n' : ''));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
