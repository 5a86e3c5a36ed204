import Link from 'next/link';
import type { ReactNode } from 'react';
import { logout } from '@/lib/auth/actions';
import { requireSession } from '@/lib/auth/session';
import { NavLink } from './_components/nav-link';

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const session = await requireSession();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/jobs" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◷
          </span>
          Cronplane
        </Link>
        <nav aria-label="Main">
          <NavLink href="/jobs">Jobs</NavLink>
          <NavLink href="/instances">Instances</NavLink>
        </nav>
        <div className="topbar-end">
          <span className="muted small">
            {session.username}
            {session.role ? ` · ${session.role}` : ''}
          </span>
          <form action={logout}>
            <button type="submit" className="btn btn-ghost btn-sm">
              Log out
            </button>
          </form>
        </div>
      </header>
      <main id="main" className="main">
        {children}
      </main>
    </>
  );
}
