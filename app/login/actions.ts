'use server';

import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { clientIp } from '@/lib/auth/rate-limit';
import { getSession } from '@/lib/auth/session';
import { SESSION_COOKIE, isHttps, sessionCookieOptions } from '@/lib/auth/token';
import { login as checkLogin, logout as endSession } from '@/lib/services/login';
import { safeNextPath } from '@/lib/validation/session';

export interface LoginState {
  error: string | null;
  /** The username typed, so a failed attempt keeps it in the field. */
  username?: string;
}

/** Sign-in form action (useActionState). Sets the session cookie and redirects to `next`. */
export async function login(_previous: LoginState, formData: FormData): Promise<LoginState> {
  const requestHeaders = await headers();
  const username = formData.get('username');
  const result = await checkLogin({
    username,
    password: formData.get('password'),
    ip: clientIp(requestHeaders),
    userAgent: requestHeaders.get('user-agent'),
  });
  if (!result.ok) return { error: result.error, username: typeof username === 'string' ? username : '' };
  const secure = isHttps('', requestHeaders.get('x-forwarded-proto'));
  (await cookies()).set(SESSION_COOKIE, result.cookie, sessionCookieOptions(secure));
  redirect(safeNextPath(formData.get('next')));
}

/** Ends the session (revoked in the store, not only forgotten by the browser). Dashboard: `<form action={logout}>`. */
export async function logout(): Promise<void> {
  const session = await getSession();
  await endSession(session, clientIp(await headers()));
  (await cookies()).delete(SESSION_COOKIE);
  redirect('/login');
}
