import Link from 'next/link';
import type { ReactNode } from 'react';
import { logout } from '../login/actions';
import { requireSession } from '@/lib/auth/session';
import { THEME_COOKIE, parseTheme } from '@/lib/presenters/theme';
import { cookies } from 'next/headers';
import { NavLink } from './_components/nav-link';
import { ThemeToggle } from './_components/theme-toggle';

// Every page here reads the database per request. Without this, `next build` tries to prerender them and a page's
// store call (rendered alongside this layout, before cookies() bails out) starts the embedded PostgreSQL.
export const dynamic = 'force-dynamic';

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const session = await requireSession();
  const theme = parseTheme((await cookies()).get(THEME_COOKIE)?.value);
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
          <NavLink href="/overview">Overview</NavLink>
          <NavLink href="/jobs">Jobs</NavLink>
          <NavLink href="/runs">Runs</NavLink>
          <NavLink href="/instances">Instances</NavLink>
          <NavLink href="/alerts">Alerts</NavLink>
          {session.role === 'admin' && (
            <>
              <NavLink href="/audit">Audit</NavLink>
              <NavLink href="/settings/users">Users</NavLink>
              <NavLink href="/settings/tokens">Tokens</NavLink>
              <NavLink href="/settings/channels">Channels</NavLink>
              <NavLink href="/settings/alerts">Alert defaults</NavLink>
            </>
          )}
        </nav>
        <div className="topbar-end">
          <ThemeToggle initial={theme} />
          <span className="muted small user" data-testid="current-user">
            {session.username} · <span data-testid="current-role">{session.role}</span>
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
