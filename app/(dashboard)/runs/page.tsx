import type { Metadata } from 'next';
import Link from 'next/link';
import { requireSession } from '@/lib/auth/session';
import { listInstances } from '@/lib/services/instances';
import { listJobNames } from '@/lib/services/jobs';
import { listRunHistory } from '@/lib/services/runs';
import { RUN_STATUSES } from '@/lib/store/types';
import { TimeCursorSchema, validCursor } from '@/lib/validation/cursor';
import { type RUN_RANGES, RunFilterSchema, type RunFilter } from '@/lib/validation/run';
import { LiveRefresh } from '../_components/live';
import { BadCursorNotice } from '../_components/notice';
import { RunsTable } from '../_components/runs-table';
import { RunFilters } from './filters';

export const metadata: Metadata = { title: 'Runs' };

const PAGE_SIZE = 50;
/** How many pages back the "Newer" link can go; older trail entries are dropped to keep URLs short. */
const MAX_TRAIL = 20;
const JOB_OPTIONS = 500;

const RANGE_LABELS: Record<keyof typeof RUN_RANGES, string> = {
  '15m': 'Last 15 minutes',
  '1h': 'Last hour',
  '6h': 'Last 6 hours',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
};

type Search = Promise<Record<string, string | string[] | undefined>>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The filters as query parameters (empty ones left out), for links that keep them. */
function filterQuery(filter: RunFilter): URLSearchParams {
  const q = new URLSearchParams();
  if (filter.job) q.set('job', filter.job);
  if (filter.q) q.set('q', filter.q);
  if (filter.status) q.set('status', filter.status);
  if (filter.instance) q.set('instance', filter.instance);
  if (filter.range) q.set('range', filter.range);
  else {
    if (filter.from) q.set('from', filter.from.toISOString());
    if (filter.to) q.set('to', filter.to.toISOString());
  }
  return q;
}

function href(filter: RunFilter, cursor?: string, trail?: string[]): string {
  const q = filterQuery(filter);
  if (cursor) q.set('cursor', cursor);
  if (trail && trail.length > 0) q.set('trail', trail.join('.'));
  const s = q.toString();
  return s ? `/runs?${s}` : '/runs';
}

export default async function RunsPage({ searchParams }: { searchParams: Search }) {
  await requireSession();
  const params = await searchParams;
  const filter = RunFilterSchema.parse({
    job: one(params.job),
    q: one(params.q),
    status: one(params.status) || undefined,
    instance: one(params.instance),
    range: one(params.range) || undefined,
    from: one(params.from),
    to: one(params.to),
  });
  const cursor = validCursor(TimeCursorSchema, one(params.cursor));
  const badCursor = Boolean(one(params.cursor)) && cursor === undefined;
  // Keyset paging only goes forward: the cursors of the pages before this one ride along in the URL
  // (base64url never contains "."; an empty entry is the first page).
  const trail = cursor ? (one(params.trail) ?? '').split('.').slice(-MAX_TRAIL) : [];
  if (cursor && trail.length === 0) trail.push('');

  const [history, jobs, { instances }] = await Promise.all([
    listRunHistory(filter, { limit: PAGE_SIZE, cursor }),
    listJobNames(JOB_OPTIONS),
    listInstances(),
  ]);
  const jobOptions = [...jobs];
  // A filtered job may be gone (deleted) or beyond the first page of names: keep it selectable.
  if (filter.job && !jobOptions.some((j) => j.id === filter.job)) {
    const name = history.page.items[0]?.jobName;
    jobOptions.unshift({ id: filter.job, name: name ? `${name} (deleted)` : filter.job });
  }
  const instanceIds = instances.map((i) => i.id);
  if (filter.instance && !instanceIds.includes(filter.instance)) instanceIds.unshift(filter.instance);
  const filtered = Boolean(filter.job || filter.q || filter.status || filter.instance || filter.range || filter.from || filter.to);

  const prevCursor = trail.length > 0 ? trail[trail.length - 1] : undefined;
  const prevHref = cursor ? href(filter, prevCursor || undefined, trail.slice(0, -1)) : null;
  const nextHref = history.page.nextCursor ? href(filter, history.page.nextCursor, cursor ? [...trail, cursor] : ['']) : null;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <p className="muted">Every run of every job, newest first by the time it was due.</p>
        </div>
        <div className="page-actions">
          <LiveRefresh topics={['runs']} />
        </div>
      </div>
      <RunFilters
        options={{
          jobs: jobOptions,
          instances: instanceIds,
          statuses: RUN_STATUSES,
          ranges: Object.entries(RANGE_LABELS).map(([value, label]) => ({ value, label })),
        }}
        values={{
          job: filter.job ?? '',
          q: filter.q ?? '',
          status: filter.status ?? '',
          instance: filter.instance ?? '',
          range: filter.range ?? '',
          from: filter.range ? '' : (filter.from?.toISOString() ?? ''),
          to: filter.range ? '' : (filter.to?.toISOString() ?? ''),
        }}
      />
      <BadCursorNotice show={badCursor} />
      {history.page.items.length === 0 ? (
        <div className="empty">
          <p>{cursor ? 'No older runs.' : filtered ? 'No run matches these filters.' : 'No runs yet.'}</p>
          {filtered && <Link href="/runs">Show all runs</Link>}
        </div>
      ) : (
        <RunsTable runs={history.page.items} showJob />
      )}
      {(prevHref || nextHref) && (
        <nav className="pager" aria-label="Run pages">
          {cursor && <Link href={href(filter)}>Newest</Link>}
          {prevHref && <Link href={prevHref}>← Newer</Link>}
          {nextHref && <Link href={nextHref}>Older →</Link>}
        </nav>
      )}
    </>
  );
}
