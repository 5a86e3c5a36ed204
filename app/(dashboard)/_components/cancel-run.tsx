'use client';

import { useActionState, useState } from 'react';
import { cancelRunAction } from '../runs/cancel-actions';
import type { CancelRunState } from '../runs/cancel-state';

const DONE: Record<NonNullable<CancelRunState['done']>, string> = {
  cancelled: 'Run cancelled: it will not start.',
  requested: 'Cancel requested: the instance running it stops its handler within 2 seconds.',
};

/**
 * Cancel for a claimed, running or retrying run (operators and admins; the page shows it only to them, the action checks
 * again). Asks for confirmation, with an optional reason, then shows what happened. The page keeps it mounted (with
 * `open` false) once the run has ended, so the answer stays in view after the page's live refresh.
 */
export function CancelRunButton({
  runId,
  reasonMax,
  open = true,
  compact = false,
}: {
  runId: string;
  reasonMax: number;
  open?: boolean;
  compact?: boolean;
}) {
  const [state, cancel, cancelling] = useActionState(cancelRunAction.bind(null, runId), {} as CancelRunState);
  // The confirmation stays open until the cancel it was opened for has answered (a new state object).
  const [confirmingFor, setConfirmingFor] = useState<CancelRunState | null>(null);
  const confirming = confirmingFor !== null && confirmingFor === state;
  const size = compact ? 'btn btn-sm' : 'btn';
  return (
    <div className="cancel-run" data-testid="cancel-run">
      {open && !confirming && !state.done && (
        <button type="button" className={size} onClick={() => setConfirmingFor(state)}>
          Cancel run…
        </button>
      )}
      {open && confirming && (
        <form action={cancel} className="confirm" aria-label="Cancel the run" aria-busy={cancelling || undefined}>
          <p>A claimed or retrying run is closed and never starts; a running one has its handler stopped.</p>
          <input type="text" name="reason" maxLength={reasonMax} placeholder="Why? (optional reason)" aria-label="Cancel reason" />
          <div className="form-actions">
            <button type="submit" className="btn btn-danger btn-sm">
              Cancel the run
            </button>
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirmingFor(null)}>
              Keep it
            </button>
          </div>
        </form>
      )}
      {state.error && (
        <p className="alert alert-error" role="alert">
          {state.error}
        </p>
      )}
      {state.done && (
        <p className="alert alert-ok" role="status">
          {DONE[state.done]}
        </p>
      )}
    </div>
  );
}
