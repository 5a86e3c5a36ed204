'use client';

import { useActionState, useState } from 'react';
import { OptionList } from '../../_components/data-table';
import { revealSigningSecretAction, rotateSigningSecretAction } from '../signing-secret-actions';
import { GRACE_CHOICES, type SigningSecretState } from '../signing-secret-state';

/**
 * Reveal and Rotate for an http job's signing secret (operators and admins). A revealed or new secret lives in this
 * component's state only: it is gone on reload, and never in the URL. Rotating asks for confirmation first.
 */
export function SigningSecretControls({ jobId }: { jobId: string }) {
  const [revealed, reveal, revealing] = useActionState(revealSigningSecretAction.bind(null, jobId), {} as SigningSecretState);
  const [rotated, rotate, rotating] = useActionState(rotateSigningSecretAction.bind(null, jobId), {} as SigningSecretState);
  // The confirmation stays open until the rotation it was opened for has answered (a new state object).
  const [confirmingFor, setConfirmingFor] = useState<SigningSecretState | null>(null);
  const confirming = confirmingFor !== null && confirmingFor === rotated;
  // The newer answer wins: a rotation after a reveal shows the new secret.
  const shown = rotated.secret ? rotated : revealed;
  const error = rotated.error ?? revealed.error;

  return (
    <div className="signing-secret-controls">
      <div className="form-actions">
        <form action={reveal} aria-busy={revealing || undefined}>
          <button type="submit" className="btn btn-sm">
            Reveal secret
          </button>
        </form>
        {!confirming && (
          <button type="button" className="btn btn-sm" onClick={() => setConfirmingFor(rotated)}>
            Rotate secret…
          </button>
        )}
      </div>
      {confirming && (
        <form action={rotate} className="confirm" aria-label="Rotate the signing secret" aria-busy={rotating || undefined}>
          <p>
            Deliveries will be signed with a new secret. The current one keeps signing beside it for the period you choose: switch your
            receiver to the new secret within it.
          </p>
          <div className="field">
            <label htmlFor="grace-seconds">The current secret keeps signing for</label>
            <select id="grace-seconds" name="graceSeconds" defaultValue={GRACE_CHOICES[0]!.value}>
              <OptionList values={GRACE_CHOICES} />
            </select>
          </div>
          <div className="form-actions">
            <button type="submit" className="btn btn-danger btn-sm">
              Rotate now
            </button>
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirmingFor(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
      {shown.secret && (
        <div className="alert alert-ok" role="status">
          <p>
            {shown.done === 'rotated'
              ? 'New secret: copy it to your receiver now.'
              : 'The signing secret (shown until you leave this page):'}
          </p>
          <p>
            <code data-testid="signing-secret">{shown.secret}</code>
          </p>
        </div>
      )}
    </div>
  );
}
