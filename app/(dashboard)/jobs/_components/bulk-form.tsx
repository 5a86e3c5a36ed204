'use client';

import { useActionState, useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { initialBulkState, type BulkState } from '../bulk-state';

function rowBoxes(form: HTMLFormElement | null): HTMLInputElement[] {
  return Array.from(form?.querySelectorAll<HTMLInputElement>('input[name="ids"]') ?? []);
}

interface Props {
  action: (state: BulkState, fd: FormData) => Promise<BulkState>;
  children: ReactNode;
}

/**
 * Wraps the jobs table: its row checkboxes (name="ids") belong to this form. Pause and resume submit at once;
 * delete asks for a confirmation first, naming how many jobs go.
 */
export function BulkForm({ action, children }: Props) {
  const [state, formAction, pending] = useActionState(action, initialBulkState);
  const [selected, setSelected] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  // Reads the ticks from the DOM (the rows are server-rendered children), so it depends on nothing that changes.
  const recount = useCallback(() => {
    const all = rowBoxes(form.current);
    const count = all.filter((b) => b.checked).length;
    const selectAll = form.current?.querySelector<HTMLInputElement>('input[data-select-all]');
    if (selectAll) {
      selectAll.checked = count > 0 && count === all.length;
      selectAll.indeterminate = count > 0 && count < all.length;
    }
    setSelected(count);
    if (count === 0) setConfirming(false);
  }, []);
  const onChange = (e: FormEvent<HTMLFormElement>) => {
    const target = e.target as HTMLInputElement;
    if (target.dataset.selectAll !== undefined) for (const box of rowBoxes(form.current)) box.checked = target.checked;
    recount();
  };
  // After an action React resets the form (ticks cleared) and the list re-renders with fresh rows: count again.
  useEffect(() => {
    setConfirming(false);
    const id = setTimeout(recount, 0);
    return () => clearTimeout(id);
  }, [state, recount]);

  return (
    <form ref={form} action={formAction} onChange={onChange} aria-label="Jobs, with bulk actions">
      <div className="bulk-bar" role="group" aria-label="Bulk actions">
        <span className="muted small" aria-live="polite" data-testid="bulk-count">
          {selected === 0 ? 'Select jobs for bulk actions' : `${selected} selected`}
        </span>
        {!confirming ? (
          <>
            <input
              type="text"
              name="note"
              className="bulk-note"
              maxLength={500}
              placeholder="Pause note (optional)"
              aria-label="Pause note for the selected jobs"
            />
            <button type="submit" name="action" value="pause" className="btn btn-sm" disabled={selected === 0 || pending}>
              Pause selected
            </button>
            <button type="submit" name="action" value="resume" className="btn btn-sm" disabled={selected === 0 || pending}>
              Resume selected
            </button>
            <button
              type="button"
              className="btn btn-sm btn-danger"
              disabled={selected === 0 || pending}
              onClick={() => setConfirming(true)}
            >
              Delete selected…
            </button>
          </>
        ) : (
          <span role="alert" className="cell-inline">
            <strong>
              Delete {selected} job{selected === 1 ? '' : 's'} and stop their schedules? Their run history is kept.
            </strong>
            <button type="submit" name="action" value="delete" className="btn btn-sm btn-danger" disabled={pending}>
              Yes, delete {selected}
            </button>
            <button type="button" className="btn btn-sm btn-ghost" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        )}
      </div>
      {state.message && (
        <div className={`alert ${state.ok ? 'alert-ok' : 'alert-error'}`} role="status" data-testid="bulk-result">
          <p>{state.message}</p>
          {state.failed.length > 0 && (
            <ul>
              {state.failed.map((f) => (
                <li key={f.id}>
                  {f.name}: {f.error}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {children}
    </form>
  );
}
