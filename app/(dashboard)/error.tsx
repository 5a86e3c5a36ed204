'use client';

import { useEffect } from 'react';

/** Shown when a page or an action fails unexpectedly (database down, scheduler refusing a run). */
export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    // In the browser: the server logged the failure itself (with the digest shown here).
    // eslint-disable-next-line no-console
    console.error(error);
  }, [error]);
  return (
    <div className="empty" role="alert">
      <h1>Something went wrong</h1>
      <p className="muted">{error.digest ? `The server could not complete the request (reference ${error.digest}).` : error.message}</p>
      <button type="button" className="btn" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
