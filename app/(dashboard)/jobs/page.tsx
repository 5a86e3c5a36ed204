import type { Metadata } from 'next';
import Link from 'next/link';
import { describeSchedule } from '@/lib/schedule';
import { hasRole } from '@/lib/auth/principal';
import { requireSession } from '@/lib/auth/session';
import { listJobTags, listJobs } from '@/lib/services/jobs';
import type { JobWithLastRun } from '@/lib/store/types';
import { NameCursorSchema, validCursor } from '@/lib/validation/cursor';
import { isSingleLineText } from '@/lib/validation/text';
import { LiveRefresh } from '../_components/live';
import { PausedBadge, StatusBadge } from '../_components/badges';
import { DataTable, type Column } from '../_components/data-table';
import { BadCursorNotice, Notice } from '../_components/notice';
import { PauseRecordCell } from '../_components/pause';
import { Time } from '../_components/time';
import { BulkForm } from './_components/bulk-form';
import { bulkJobsAction } from './bulk-actions';

export const metadata: Metadata = { title: 'Jobs' };

const PAGE_SIZE = 50;

type Search = Promise<{ cursor?: string | string[]; q?: string | string[]; tag?: string | string[]; notice?: string | string[] }>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export default async function JobsPage({ searchParams }: { searchParams: Search }) {
  // Viewers get no mutating control at all (the server refuses their mutations anyway).
  const canEdit = hasRole(await requireSession(), 'operator');
  const params = await searchParams;
  // A crafted cursor or a control character in a filter is dropped (the first page, no filter), not an error page.
  const cursor = validCursor(NameCursorSchema, one(params.cursor));
  const badCursor = Boolean(one(params.cursor)) && cursor === undefined;
  const filterText = (value: string | undefined) => (value && isSingleLineText(value) ? value : undefined);
  const q = filterText(one(params.q)?.trim());
  const tag = filterText(one(params.tag)?.trim());
  const [page, tags] = await Promise.all([listJobs({ limit: PAGE_SIZE, cursor, search: q, tag }), listJobTags()]);
  // The filters travel in the URL: links keep the ones they do not change.
  const href = (next: { q?: string; tag?: string; cursor?: string }): string => {
    const sp = new URLSearchParams();
    if (next.q) sp.set('q', next.q);
    if (next.tag) sp.set('tag', next.tag);
    if (next.cursor) sp.set('cursor', next.cursor);
    const qs = sp.toString();
    return qs ? `/jobs?${qs}` : '/jobs';
  };

  return (
    <>
      <div className="page-head">
        <h1>Jobs</h1>
        <div className="page-actions">
          <form className="search" role="search" action="/jobs">
            <label htmlFor="job-search" className="sr-only">
              Search jobs by name
            </label>
            <input id="job-search" type="search" name="q" placeholder="Search by name" defaultValue={q ?? ''} />
            {tag && <input type="hidden" name="tag" value={tag} />}
            <button type="submit" className="btn btn-sm">
              Search
            </button>
          </form>
          <LiveRefresh topics={['jobs']} />
          {canEdit && (
            <Link href="/jobs/new" className="btn btn-primary">
              New job
            </Link>
          )}
        </div>
      </div>
      <Notice code={one(params.notice)} />
      <BadCursorNotice show={badCursor} />
      {tags.length > 0 && (
        <nav aria-label="Filter by tag">
          <ul className="chips">
            <li>
              <Link href={href({ q })} className="chip" aria-current={tag ? undefined : 'true'}>
                All tags
              </Link>
            </li>
            {tags.map((t) => (
              <li key={t}>
                <Link href={href({ q, tag: t })} className="chip" aria-current={t === tag ? 'true' : undefined} data-tag={t}>
                  {t}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      )}

      {page.items.length === 0 ? (
        <div className="empty">
          {q || tag || cursor ? (
            <>
              <p>
                No job matches{q ? ` “${q}”` : ''}
                {tag ? ` with tag “${tag}”` : ''}.
              </p>
              <Link href="/jobs">Show all jobs</Link>
            </>
          ) : (
            <>
              <h2>No jobs yet</h2>
              <p className="muted">
                A job runs a task (an HTTP call, a log line) on a schedule, exactly once per occurrence across every instance.
              </p>
              {canEdit && (
                <Link href="/jobs/new" className="btn btn-primary">
                  Create your first job
                </Link>
              )}
            </>
          )}
        </div>
      ) : (
        <MaybeBulkForm enabled={canEdit}>
          <DataTable
            label="Jobs"
            columns={jobColumns(canEdit, (t) => href({ q, tag: t }))}
            rows={page.items}
            rowKey={(job) => job.id}
            rowAttributes={(job) => ({ 'data-job-id': job.id })}
          />
        </MaybeBulkForm>
      )}
      {(cursor || page.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          {cursor && <Link href={href({ q, tag })}>First page</Link>}
          {page.nextCursor && <Link href={href({ q, tag, cursor: page.nextCursor })}>Next page</Link>}
        </nav>
      )}
    </>
  );
}

/** The jobs list's columns; operators and admins also get a checkbox per row for the bulk actions. */
function jobColumns(canEdit: boolean, tagHref: (tag: string) => string): ReadonlyArray<Column<JobWithLastRun> | false> {
  return [
    canEdit && {
      header: 'Select',
      headerContent: <input type="checkbox" data-select-all aria-label="Select all jobs on this page" />,
      headerClassName: 'col-check',
      className: 'col-check',
      cell: (job) => (
        <>
          <input type="checkbox" name="ids" value={job.id} aria-label={`Select ${job.name}`} />
          <input type="hidden" name={`name:${job.id}`} value={job.name} />
        </>
      ),
    },
    {
      header: 'Name',
      cell: (job) => (
        <>
          <Link href={`/jobs/${job.id}`} className="row-link">
            {job.name}
          </Link>
          {job.tags.length > 0 && (
            <span className="tags">
              {job.tags.map((t) => (
                <Link key={t} href={tagHref(t)} className="tag">
                  {t}
                </Link>
              ))}
            </span>
          )}
        </>
      ),
    },
    { header: 'Type', cell: (job) => <code>{job.type}</code> },
    { header: 'Schedule', cell: (job) => describeSchedule(job.schedule) },
    {
      header: 'Next run',
      cell: (job) =>
        job.paused ? (
          <span className="muted">paused</span>
        ) : (
          <Time
            iso={job.nextRunAt?.toISOString() ?? null}
            zone={job.schedule.kind === 'cron' ? job.schedule.timezone : undefined}
            showRelative
            empty="none"
          />
        ),
    },
    {
      header: 'Last run',
      cell: (job) =>
        job.lastRun ? (
          <span className="cell-inline">
            <StatusBadge status={job.lastRun.status} />
            <Time iso={(job.lastRun.startedAt ?? job.lastRun.scheduledFor).toISOString()} relativeOnly />
          </span>
        ) : (
          <span className="muted">never</span>
        ),
    },
    {
      header: 'State',
      cell: (job) => (
        <span className="cell-inline">
          <PausedBadge paused={job.paused} />
          <PauseRecordCell pause={job.pause} />
        </span>
      ),
    },
  ];
}

/** The bulk-action form for operators and admins; viewers get the bare table. */
function MaybeBulkForm({ enabled, children }: { enabled: boolean; children: React.ReactNode }) {
  return enabled ? <BulkForm action={bulkJobsAction}>{children}</BulkForm> : <>{children}</>;
}
