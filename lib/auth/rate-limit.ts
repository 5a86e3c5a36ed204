import 'server-only';
import { createHash } from 'node:crypto';

/** Failed sign-ins allowed per client address within the window (the budget is in the database, shared by all instances). */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

/**
 * The client address. Next fills X-Forwarded-For with the socket address only when the header is
 * absent, and a reverse proxy appends the address it saw: the last entry is the hop nearest to us,
 * the one a client cannot choose when a proxy is in front.
 */
export function clientIp(headers: Headers): string {
  const forwarded = headers.get('x-forwarded-for')?.split(',').at(-1)?.trim();
  return forwarded || headers.get('x-real-ip')?.trim() || 'unknown';
}

/**
 * The key of an address's sign-in budget (Store.takeLoginAttempt): a hash, so that the key has a fixed length whatever
 * a client sends as X-Forwarded-For without a proxy in front, and the table holds no addresses (the audit log has them).
 */
export function addressBudgetKey(ip: string): string {
  return `ip:${createHash('sha256').update(ip, 'utf8').digest('base64url')}`;
}
