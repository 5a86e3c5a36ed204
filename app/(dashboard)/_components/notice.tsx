const NOTICES: Record<string, string> = {
  created: 'Job created.',
  saved: 'Changes saved.',
  paused: 'Job paused: no new runs start until it is resumed.',
  resumed: 'Job resumed.',
  queued: 'Run queued: it will show up below within a few seconds.',
  deleted: 'Job deleted.',
};

/** The one-line confirmation after a redirect (?notice=...). Unknown codes show nothing. */
export function Notice({ code }: { code: string | undefined }) {
  const text = code ? NOTICES[code] : undefined;
  if (!text) return null;
  return (
    <p className="alert alert-ok" role="status">
      {text}
    </p>
  );
}
