// SSRF guard for outgoing job requests: resolve, check every address, then connect to exactly the
// address that was checked (the socket's lookup is pinned, so a second DNS answer cannot differ).
// No 'server-only' import: lib/jobs/http.ts (which the job form's bundle also reaches) imports this;
// the browser never calls it.
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { SECRET_HEADER_NAME, followsCrossOriginRedirect } from '../domain';
import { allowListFromEnv, defaultPort, isAllowed, isLocalName, type AllowList } from './allow';
import { blockedReason, formatIp, parseIp } from './ip';

export class BlockedAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

export interface Target {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to (the system resolver by default; tests inject their own answers). */
export type HostLookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Resolves the URL's host and refuses it when any address is not public (unless allow-listed). */
export async function resolveTarget(url: URL, list: AllowList = allowListFromEnv(), lookup: HostLookup = systemLookup): Promise<Target> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = defaultPort(url);
  const literal = parseIp(host);
  let addresses: Array<{ address: string; family: number }>;
  if (literal) {
    addresses = [{ address: formatIp(literal), family: literal.family }];
  } else {
    if (isLocalName(host) && !isAllowed(list, host, port, null)) {
      throw new BlockedAddressError(`refused ${host}: loopback name (allow it with HTTP_JOB_ALLOW)`);
    }
    try {
      addresses = await lookup(host);
    } catch (err) {
      throw new Error(`cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (addresses.length === 0) throw new Error(`cannot resolve ${host}: no addresses`);
  // Every address must pass: otherwise a name with one public and one private answer could be steered.
  for (const { address } of addresses) {
    const ip = parseIp(address);
    if (!ip) throw new BlockedAddressError(`refused ${host}: unreadable address ${address}`);
    const reason = blockedReason(ip);
    if (reason && !isAllowed(list, host, port, ip)) {
      throw new BlockedAddressError(
        `refused ${host}${literal ? '' : ` (${address})`}: ${reason} address; allow it with HTTP_JOB_ALLOW if intended`,
      );
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

function pinnedLookup(target: Target): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;
}

export interface GuardedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Redirects followed at most (each hop is checked again). */
  maxRedirects: number;
  /** Stop reading the body past this many bytes. */
  maxBytes: number;
  followRedirects: boolean;
  allowList?: AllowList;
  /** How host names are resolved (each hop); default the system resolver. */
  lookup?: HostLookup;
  /**
   * Asked once the connection is up, right before the request is written: a reason not to send it (the run is no
   * longer this instance's), or null. Nothing reaches the target when it answers with a reason.
   */
  beforeSend?: () => string | null;
  /** Each piece of the final response's body as it arrives (within maxBytes), before the whole body is returned. */
  onBody?: (piece: Buffer) => void;
}

export interface GuardedResponse {
  status: number;
  statusText: string;
  /** The URL that answered (after redirects). */
  url: string;
  redirects: number;
  body: string;
  /** True when the body was cut at maxBytes. */
  truncated: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * Headers the app treats as credentials (lib/secrets: encrypted, masked). On a redirect to another origin far more is
 * dropped: every header outside a short allow-list (followsCrossOriginRedirect in lib/domain).
 */
export function isCredentialHeader(name: string): boolean {
  return SECRET_HEADER_NAME.test(name);
}

interface Hop {
  status: number;
  statusText: string;
  location: string | null;
  body: string;
  truncated: boolean;
}

function oneRequest(
  url: URL,
  target: Target,
  req: GuardedRequest,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<Hop> {
  return new Promise<Hop>((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: defaultPort(url),
        path: `${url.pathname}${url.search}`,
        method,
        headers: body !== undefined ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers,
        lookup: pinnedLookup(target),
        // A fresh connection per hop: a pooled socket could belong to another (unchecked) address.
        agent: false,
        signal: req.signal,
        // TLS: SNI and certificate check use the name, the socket uses the checked address.
        servername: parseIp(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const location = REDIRECTS.has(status) ? (response.headers.location ?? null) : null;
        if (method === 'HEAD' || location) {
          response.destroy();
          resolve({ status, statusText: response.statusMessage ?? '', location, body: '', truncated: false });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        // A failing observer must not fail the request.
        const tell = (piece: Buffer): void => {
          try {
            req.onBody?.(piece);
          } catch {
            // ignored
          }
        };
        const finish = (): void => {
          const all = Buffer.concat(chunks);
          resolve({ status, statusText: response.statusMessage ?? '', location: null, body: all.toString('utf8'), truncated });
        };
        response.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = req.maxBytes - size;
          if (chunk.length >= room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            truncated = true;
            tell(chunk.subarray(0, room));
            // Past the cap: stop downloading, keep what we have.
            response.destroy();
            finish();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
          tell(chunk);
        });
        response.on('end', () => {
          if (!truncated) finish();
        });
        response.on('error', (err) => {
          if (!truncated) reject(err);
        });
      },
    );
    request.on('error', reject);
    // Nothing is written before the connection is up (ClientRequest buffers until end()), so the last check happens
    // right before the bytes leave.
    const send = (): void => {
      const refusal = req.beforeSend?.() ?? null;
      if (refusal) {
        request.destroy(new Error(refusal));
        return;
      }
      if (body !== undefined) request.write(body);
      request.end();
    };
    request.once('socket', (socket) => {
      if (!socket.connecting) send();
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', send);
    });
  });
}

/** The body a request of this method carries: GET and HEAD send none, whatever they were given. */
export function bodyToSend(method: string, body: string | undefined): string | undefined {
  const upper = method.toUpperCase();
  return upper === 'GET' || upper === 'HEAD' ? undefined : body;
}

/** An HTTP(S) request that only reaches allowed addresses, follows redirects by hand and caps the body. */
export async function guardedHttpRequest(req: GuardedRequest): Promise<GuardedResponse> {
  const list = req.allowList ?? allowListFromEnv();
  let url = new URL(req.url);
  let method = req.method.toUpperCase();
  let body = bodyToSend(method, req.body);
  let headers = { ...req.headers };
  for (let redirects = 0; ; redirects++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BlockedAddressError(`refused redirect to ${url.protocol} URL`);
    const target = await resolveTarget(url, list, req.lookup);
    const hop = await oneRequest(url, target, req, method, headers, body);
    if (!hop.location || !req.followRedirects) {
      return { status: hop.status, statusText: hop.statusText, url: url.toString(), redirects, body: hop.body, truncated: hop.truncated };
    }
    if (redirects >= req.maxRedirects) throw new Error(`too many redirects (more than ${req.maxRedirects}) from ${req.url}`);
    const next = new URL(hop.location, url);
    if (next.origin !== url.origin)
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => followsCrossOriginRedirect(name)));
    // As browsers do: 303 always, and 301/302 after a POST, continue as GET without a body.
    if (hop.status === 303 || ((hop.status === 301 || hop.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-(type|length)$/i.test(name)));
    }
    url = next;
  }
}
