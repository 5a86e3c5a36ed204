// Plain formatting helpers, safe on both sides.

/**
 * Every duration the dashboard shows (run tables, the run page, chart axes and summaries, clock skew): "420 ms",
 * "3.2 s", "42 s", "2.5 min", "1.4 h". Short enough for a chart axis; the unit is picked after rounding, so 59.97 s
 * reads "1.0 min", not "60 s".
 */
export function formatDuration(ms: number): string {
  const whole = Math.round(ms);
  if (whole < 1000) return `${whole} ms`;
  const seconds = ms / 1000;
  const tenths = seconds.toFixed(1);
  if (Number(tenths) < 10) return `${tenths} s`;
  if (Math.round(seconds) < 60) return `${Math.round(seconds)} s`;
  const minutes = (ms / 60_000).toFixed(1);
  if (Number(minutes) < 60) return `${minutes} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** A duration that may be negative ("−1.2 s"; with `plus`, "+1.2 s" when positive): start lag, clock skew. */
export function formatSignedDuration(ms: number, { plus = false }: { plus?: boolean } = {}): string {
  const sign = ms < 0 ? '−' : plus && ms > 0 ? '+' : '';
  return `${sign}${formatDuration(Math.abs(ms))}`;
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
