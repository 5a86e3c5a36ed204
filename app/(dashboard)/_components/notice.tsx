const NOTICES: Record<string, string> = {
  created: 'Job created.',
  saved: 'Changes saved.',
  paused: 'Job paused: no new runs start until it is resumed.',
  resumed: 'Job resumed.',
  queued: 'Run queued: it will show up below within a few seconds.',
  deleted: 'Job deleted.',
};

/** Refusals: shown as errors. */
const ERRORS: Record<string, string> = {
  forbidden: 'Your role may not do that: nothing was changed.',
  'bad-note': 'The pause note must be one line of at most 500 characters: the job was not paused.',
};

/** The one-line confirmation after a redirect (?notice=...). Unknown codes show nothing. */
export function Notice({ code }: { code: string | undefined }) {
  const error = code ? ERRORS[code] : undefined;
  if (error) {
    return (
      <p className="alert alert-error" role="alert">
        {error}
      </p>
    );
  }
  const text = code ? NOTICES[code] : undefined;
  if (!text) return null;
  return (
    <p className="alert alert-ok" role="status">
      {text}
    </p>
  );
}

/**
 * A ?cursor= the page could not use (edited, truncated, from another list): the page shows its first page instead
 * of an error, and says so.
 */
export function BadCursorNotice({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <p className="alert alert-error" role="status" data-testid="bad-cursor">
      That page link is not valid (its cursor is malformed or out of date): showing the first page instead.
    </p>
  );
}
