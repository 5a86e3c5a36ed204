import type { Metadata } from 'next';
import { requireSession } from '@/lib/auth/session';
import { parseStatsRange } from '@/lib/presenters/run-stats';
import { getRunStats } from '@/lib/services/stats';
import { StatsCharts } from '../_components/charts';
import { LiveRefresh } from '../_components/live';

export const metadata: Metadata = { title: 'Overview' };

type Search = Promise<{ range?: string | string[] }>;

export default async function OverviewPage({ searchParams }: { searchParams: Search }) {
  // Every page checks the session itself: the layout renders alongside the page, not before it (see lib/auth/session.ts).
  await requireSession();
  const params = await searchParams;
  const range = parseStatsRange(Array.isArray(params.range) ? params.range[0] : params.range);
  const stats = await getRunStats(range);
  return (
    <>
      <div className="page-head">
        <h1>Overview</h1>
        <div className="page-actions">
          <LiveRefresh topics={['runs']} />
        </div>
      </div>
      <StatsCharts series={stats.series} range={range} scope=", all jobs" hrefFor={(r) => `/overview?range=${r}`} />
    </>
  );
}
