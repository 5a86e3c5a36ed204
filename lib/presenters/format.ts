// Plain formatting helpers, safe on both sides.

/** "420 ms", "3.2 s", "2 min 5 s", "1 h 3 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)} min${total % 60 ? ` ${total % 60} s` : ''}`;
  const minutes = Math.floor(total / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

export function durationBetween(start: Date | null, end: Date | null): string | null {
  if (!start || !end) return null;
  return formatDuration(Math.max(0, end.getTime() - start.getTime()));
}

/** The first line, at most `max` characters, for a table cell. */
export function excerpt(text: string, max = 80): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
