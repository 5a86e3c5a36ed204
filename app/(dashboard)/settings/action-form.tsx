'use client';

import { useActionState, type ReactNode } from 'react';
import type { SettingsState } from './state';

/**
 * A form bound to a settings server action: shows its error or confirmation next to the controls, and a new
 * token's secret (once: it is in this component's state only, never in a URL or the page on reload).
 */
export function ActionForm({
  action,
  children,
  className,
  label,
}: {
  action: (state: SettingsState, fd: FormData) => Promise<SettingsState>;
  children: ReactNode;
  className?: string;
  label?: string;
}) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form action={formAction} className={className} aria-label={label} aria-busy={pending || undefined}>
      {children}
      {state.error && (
        <p className="alert alert-error" role="alert">
          {state.error}
        </p>
      )}
      {state.ok && (
        <p className="alert alert-ok" role="status">
          {state.ok}
        </p>
      )}
      {state.secret && (
        <div className="alert alert-ok" role="status">
          <p>{state.secretNote ?? 'Copy the token now: it is not shown again.'}</p>
          <p>
            <code data-testid="new-token">{state.secret}</code>
          </p>
        </div>
      )}
    </form>
  );
}
