import 'server-only';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { SESSION_COOKIE, verifySessionToken } from './token';

export interface SessionUser {
  username: string;
  role: string;
}

/** The signed-in user of the current request, or null. For server components, actions and route handlers. */
export async function getSession(): Promise<SessionUser | null> {
  const jar = await cookies();
  const session = verifySessionToken(jar.get(SESSION_COOKIE)?.value);
  return session ? { username: session.username, role: session.role } : null;
}

/** The signed-in user; redirects to /login without a valid session. Pages and server actions call this. */
export async function requireSession(): Promise<SessionUser> {
  const session = await getSession();
  if (!session) redirect('/login');
  return session;
}
