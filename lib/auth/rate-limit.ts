import 'server-only';

/** Failed sign-ins allowed per client address within the window. */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
// Bounds memory when many addresses fail: expired entries are pruned past this size.
const MAX_TRACKED = 10_000;

interface Entry {
  failures: number;
  windowStart: number;
}

const KEY = Symbol.for('cronplane.loginRateLimit');
type RateGlobal = typeof globalThis & { [KEY]?: Map<string, Entry> };

function entries(): Map<string, Entry> {
  const g = globalThis as RateGlobal;
  g[KEY] ??= new Map();
  return g[KEY];
}

/** Milliseconds until `ip` may try again; 0 when it may try now. In memory: per instance, reset on restart. */
export function loginBlockedFor(ip: string, now = Date.now()): number {
  const entry = entries().get(ip);
  if (!entry || now - entry.windowStart >= LOGIN_WINDOW_MS) return 0;
  return entry.failures >= LOGIN_MAX_FAILURES ? entry.windowStart + LOGIN_WINDOW_MS - now : 0;
}

export function recordLoginFailure(ip: string, now = Date.now()): void {
  const map = entries();
  const entry = map.get(ip);
  if (!entry || now - entry.windowStart >= LOGIN_WINDOW_MS) {
    if (map.size >= MAX_TRACKED) {
      for (const [key, value] of map) if (now - value.windowStart >= LOGIN_WINDOW_MS) map.delete(key);
      // Still full of live entries: forget the oldest rather than grow without bound.
      if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value as string);
    }
    map.set(ip, { failures: 1, windowStart: now });
  } else {
    entry.failures += 1;
  }
}

export function clearLoginFailures(ip: string): void {
  entries().delete(ip);
}

/**
 * The client address. Next fills X-Forwarded-For with the socket address only when the header is
 * absent, and a reverse proxy appends the address it saw: the last entry is the hop nearest to us,
 * the one a client cannot choose when a proxy is in front.
 */
export function clientIp(headers: Headers): string {
  const forwarded = headers.get('x-forwarded-for')?.split(',').at(-1)?.trim();
  return forwarded || headers.get('x-real-ip')?.trim() || 'unknown';
}
