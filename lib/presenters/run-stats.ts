import 'server-only';
import { RUN_STATUSES, type RunStatsBucket, type RunStatus } from '../store/types';
import { formatDuration } from './format';

/** Chart time ranges: the window, and a bucket size giving a readable number of bars (40-60). */
export const STATS_RANGES = {
  '1h': { label: '1 hour', windowMs: 3600_000, bucketSeconds: 60 },
  '24h': { label: '24 hours', windowMs: 24 * 3600_000, bucketSeconds: 30 * 60 },
  '7d': { label: '7 days', windowMs: 7 * 24 * 3600_000, bucketSeconds: 4 * 3600 },
} as const;
export type StatsRange = keyof typeof STATS_RANGES;
export const STATS_RANGE_KEYS = Object.keys(STATS_RANGES) as StatsRange[];
export const DEFAULT_STATS_RANGE: StatsRange = '24h';

export function parseStatsRange(value: string | undefined): StatsRange {
  return value !== undefined && (STATS_RANGE_KEYS as string[]).includes(value) ? (value as StatsRange) : DEFAULT_STATS_RANGE;
}

/**
 * The window [from, to) for a range at `now`: `to` is the end of the bucket holding `now`, so bucket edges sit on
 * multiples of the bucket size (stable between reloads) and the current, partial bucket is the last bar.
 */
export function statsWindow(range: StatsRange, now: Date): { from: Date; to: Date; bucketSeconds: number } {
  const { windowMs, bucketSeconds } = STATS_RANGES[range];
  const bucketMs = bucketSeconds * 1000;
  const to = Math.floor(now.getTime() / bucketMs) * bucketMs + bucketMs;
  return { from: new Date(to - windowMs), to: new Date(to), bucketSeconds };
}

export interface StatsPoint {
  start: Date;
  end: Date;
  /** Every status, 0 when the bucket had none of it. */
  counts: Record<RunStatus, number>;
  total: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface StatsSeries {
  from: Date;
  to: Date;
  bucketSeconds: number;
  points: StatsPoint[];
  totals: Record<RunStatus, number>;
  total: number;
  /** Largest bar, at least 1 (the y scale of the bar chart). */
  maxTotal: number;
  /** Largest p95 (or p50) in the window; null when no run in it has a duration. */
  maxDurationMs: number | null;
  /** Statuses that occur in the window, in RUN_STATUSES order (the legend). */
  statuses: RunStatus[];
}

function zeroCounts(): Record<RunStatus, number> {
  return Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
}

/**
 * The store returns only buckets that have runs; charts need every bucket of the window, empty ones included, so
 * gaps show as gaps (no bar, a break in the duration line) instead of neighbouring bars sliding together.
 * Buckets outside the window or off the grid (a store bug) are ignored rather than drawn in the wrong place.
 */
export function fillRunStats(buckets: RunStatsBucket[], window: { from: Date; to: Date; bucketSeconds: number }): StatsSeries {
  const bucketMs = window.bucketSeconds * 1000;
  if (!(bucketMs > 0)) throw new RangeError('bucketSeconds must be positive');
  const from = window.from.getTime();
  const count = Math.max(0, Math.ceil((window.to.getTime() - from) / bucketMs));
  const points: StatsPoint[] = Array.from({ length: count }, (_, i) => ({
    start: new Date(from + i * bucketMs),
    end: new Date(Math.min(from + (i + 1) * bucketMs, window.to.getTime())),
    counts: zeroCounts(),
    total: 0,
    p50Ms: null,
    p95Ms: null,
  }));
  for (const bucket of buckets) {
    const offset = bucket.bucketStart.getTime() - from;
    if (offset < 0 || offset % bucketMs !== 0) continue;
    const point = points[offset / bucketMs];
    if (!point) continue;
    for (const status of RUN_STATUSES) {
      const n = bucket.counts[status] ?? 0;
      point.counts[status] += n;
      point.total += n;
    }
    point.p50Ms = bucket.durationP50Ms;
    point.p95Ms = bucket.durationP95Ms;
  }
  const totals = zeroCounts();
  let total = 0;
  let maxTotal = 1;
  let maxDurationMs: number | null = null;
  for (const point of points) {
    for (const status of RUN_STATUSES) totals[status] += point.counts[status];
    total += point.total;
    maxTotal = Math.max(maxTotal, point.total);
    const d = point.p95Ms ?? point.p50Ms;
    if (d !== null) maxDurationMs = Math.max(maxDurationMs ?? 0, d);
  }
  return {
    from: window.from,
    to: window.to,
    bucketSeconds: window.bucketSeconds,
    points,
    totals,
    total,
    maxTotal,
    maxDurationMs,
    statuses: RUN_STATUSES.filter((s) => totals[s] > 0),
  };
}

/** A "nice" axis maximum (1, 2, 5 x 10^n) at or above `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

/** One sentence for screen readers and the chart's aria-label. */
export function summarizeRuns(series: StatsSeries, rangeLabel: string): string {
  if (series.total === 0) return `No runs in the last ${rangeLabel}.`;
  const parts = series.statuses.map((s) => `${series.totals[s]} ${s}`);
  const busiest = series.points.reduce((a, b) => (b.total > a.total ? b : a));
  return `${series.total} runs in the last ${rangeLabel}: ${parts.join(', ')}. Busiest interval: ${busiest.total} runs from ${busiest.start.toISOString()}.`;
}

export function summarizeDurations(series: StatsSeries, rangeLabel: string): string {
  const withData = series.points.filter((p) => p.p50Ms !== null);
  if (withData.length === 0) return `No finished runs with a duration in the last ${rangeLabel}.`;
  const p95s = withData.map((p) => p.p95Ms ?? p.p50Ms ?? 0);
  const p50s = withData.map((p) => p.p50Ms ?? 0);
  return `Run duration over the last ${rangeLabel} in ${withData.length} intervals: p50 between ${formatDuration(Math.min(...p50s))} and ${formatDuration(Math.max(...p50s))}, p95 up to ${formatDuration(Math.max(...p95s))}.`;
}
