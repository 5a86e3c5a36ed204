import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { getSession } from '@/lib/auth/session';
import { safeNextPath } from '@/lib/validation/session';
import { LoginForm } from './login-form';
import styles from './login.module.css';

export const metadata: Metadata = { title: 'Sign in' };
export const dynamic = 'force-dynamic';

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const requested = (await searchParams).next;
  // Only a same-origin path survives (lib/validation/session.ts); the form sends it back, and the action checks it again.
  const next = safeNextPath(Array.isArray(requested) ? requested[0] : requested);
  // Already signed in: nothing to do here.
  if (await getSession()) redirect(next);
  return (
    <main className={styles.page}>
      <section className={styles.card} aria-labelledby="login-title">
        <h1 id="login-title" className={styles.title}>
          Cronplane
        </h1>
        <p className={styles.subtitle}>Sign in to manage scheduled jobs.</p>
        <LoginForm next={next} />
      </section>
    </main>
  );
}
