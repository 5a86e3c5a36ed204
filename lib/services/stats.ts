import 'server-only';
import { NotFoundError } from '../errors';
import { STATS_RANGES, fillRunStats, statsWindow, type StatsRange, type StatsSeries } from '../presenters/run-stats';
import { getStore } from '../store';
import { IdSchema } from '../validation/id';

export interface RunStatsView {
  range: StatsRange;
  rangeLabel: string;
  series: StatsSeries;
  now: Date;
}

/** Runs per interval by status and duration percentiles over a chart range, every bucket present (gaps as zeros). */
export async function getRunStats(range: StatsRange, jobId?: string): Promise<RunStatsView> {
  let id: string | undefined;
  if (jobId !== undefined) {
    const parsed = IdSchema.safeParse(jobId);
    if (!parsed.success) throw new NotFoundError('job');
    id = parsed.data;
  }
  const store = await getStore();
  const now = await store.now();
  const window = statsWindow(range, now);
  const buckets = await store.runStats({ ...window, jobId: id });
  return { range, rangeLabel: STATS_RANGES[range].label, series: fillRunStats(buckets, window), now };
}
