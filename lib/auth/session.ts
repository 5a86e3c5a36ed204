import 'server-only';
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { cache } from 'react';
import type { UserRole } from '../store/types';
import { hasRole, principalFromSessionCookie, requireRole, type Actor, type Principal } from './principal';
import { clientIp } from './rate-limit';
import { SESSION_COOKIE } from './token';

/** A signed-in user of a page or server action. */
export interface SessionUser extends Principal {
  username: string;
}

/**
 * The signed-in user of the current request (a live, unrevoked session of an enabled user), or null. Read once per
 * request (React's cache): the layout, the page and its metadata all ask.
 */
export const getSession = cache(async (): Promise<SessionUser | null> => {
  const jar = await cookies();
  const principal = await principalFromSessionCookie(jar.get(SESSION_COOKIE)?.value);
  return principal ? { ...principal, username: principal.name } : null;
});

/**
 * The signed-in user; redirects to /login without a valid session. Every page, generateMetadata that reads data, and
 * server action calls this itself: the dashboard layout checks too, but Next renders a layout and its page side by
 * side, so a page relying on the layout streamed its data after the layout's redirect (and proxy.ts only checks the
 * cookie's signature, not revocation, expiry or a disabled user).
 */
export async function requireSession(): Promise<SessionUser> {
  const session = await getSession();
  if (!session) redirect('/login');
  return session;
}

/**
 * For server actions and pages: the signed-in user with at least `role`, as an Actor for the services.
 * Throws ForbiddenError (403) below the role; actions turn that into an error notice.
 */
export async function requireActor(role: UserRole = 'viewer'): Promise<Actor & { principal: SessionUser }> {
  const session = await requireSession();
  requireRole(session, role);
  return { principal: session, ip: clientIp(await headers()) };
}

/** For pages that only exist to mutate (new, edit, delete): below `role`, back to `fallback` with the "forbidden" notice. */
export async function requirePageRole(role: UserRole, fallback: string): Promise<SessionUser> {
  const session = await requireSession();
  if (!hasRole(session, role)) redirect(`${fallback}?notice=forbidden`);
  return session;
}
