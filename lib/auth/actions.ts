'use server';

import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { ADMIN_USERNAME, getCredentials, secretEquals } from './credentials';
import { clearLoginFailures, clientIp, loginBlockedFor, recordLoginFailure } from './rate-limit';
import { SESSION_COOKIE, createSessionToken, isHttps, sessionCookieOptions } from './token';

export interface LoginState {
  error: string | null;
}

/** Only same-site paths: "//evil.example" or "/\\evil" would leave the site after sign-in. */
function safeNext(value: FormDataEntryValue | null): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (value.startsWith('/login')) return '/';
  return value;
}

/** Sign-in form action (useActionState). Sets the session cookie and redirects to `next`. */
export async function login(_previous: LoginState, formData: FormData): Promise<LoginState> {
  const requestHeaders = await headers();
  const ip = clientIp(requestHeaders);
  const waitMs = loginBlockedFor(ip);
  if (waitMs > 0) {
    const minutes = Math.ceil(waitMs / 60_000);
    return { error: `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` };
  }
  const password = formData.get('password');
  if (typeof password !== 'string' || password.length === 0) return { error: 'Enter the password.' };
  if (!secretEquals(password, getCredentials().adminPassword)) {
    recordLoginFailure(ip);
    return { error: 'Wrong password.' };
  }
  clearLoginFailures(ip);
  const secure = isHttps('', requestHeaders.get('x-forwarded-proto'));
  (await cookies()).set(SESSION_COOKIE, createSessionToken(ADMIN_USERNAME, 'admin'), sessionCookieOptions(secure));
  redirect(safeNext(formData.get('next')));
}

/** Ends the session. Dashboard: `<form action={logout}>`. */
export async function logout(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
  redirect('/login');
}
