import type { Metadata } from 'next';
import Link from 'next/link';
import { describeSchedule } from '@/lib/schedule';
import { listJobs } from '@/lib/services/jobs';
import { LiveRefresh } from '../_components/live';
import { PausedBadge, StatusBadge } from '../_components/badges';
import { Notice } from '../_components/notice';
import { Time } from '../_components/time';

export const metadata: Metadata = { title: 'Jobs' };

const PAGE_SIZE = 50;

type Search = Promise<{ cursor?: string | string[]; q?: string | string[]; notice?: string | string[] }>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export default async function JobsPage({ searchParams }: { searchParams: Search }) {
  const params = await searchParams;
  const cursor = one(params.cursor);
  const q = one(params.q)?.trim() || undefined;
  const page = await listJobs({ limit: PAGE_SIZE, cursor, search: q });

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
            <button type="submit" className="btn btn-sm">
              Search
            </button>
          </form>
          <LiveRefresh topics={['jobs']} />
          <Link href="/jobs/new" className="btn btn-primary">
            New job
          </Link>
        </div>
      </div>
      <Notice code={one(params.notice)} />

      {page.items.length === 0 ? (
        <div className="empty">
          {q || cursor ? (
            <>
              <p>No job matches “{q}”.</p>
              <Link href="/jobs">Show all jobs</Link>
            </>
          ) : (
            <>
              <h2>No jobs yet</h2>
              <p className="muted">A job runs a task (an HTTP call, a log line) on a schedule, exactly once per occurrence across every instance.</p>
              <Link href="/jobs/new" className="btn btn-primary">
                Create your first job
              </Link>
            </>
          )}
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Jobs">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((job) => (
                <tr key={job.id} data-job-id={job.id}>
                  <td>
                    <Link href={`/jobs/${job.id}`} className="row-link">
                      {job.name}
                    </Link>
                    {job.tags.length > 0 && (
                      <span className="tags">
                        {job.tags.map((t) => (
                          <span key={t} className="tag">
                            {t}
                          </span>
                        ))}
                      </span>
                    )}
                  </td>
                  <td>
                    <code>{job.type}</code>
                  </td>
                  <td>{describeSchedule(job.schedule)}</td>
                  <td>
                    {job.paused ? (
                      <span className="muted">paused</span>
                    ) : (
                      <Time iso={job.nextRunAt?.toISOString() ?? null} showRelative empty="none" />
                    )}
                  </td>
                  <td>
                    {job.lastRun ? (
                      <span className="cell-inline">
                        <StatusBadge status={job.lastRun.status} />
                        <Time iso={(job.lastRun.startedAt ?? job.lastRun.scheduledFor).toISOString()} relativeOnly />
                      </span>
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td>
                    <PausedBadge paused={job.paused} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(cursor || page.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          {cursor && <Link href={q ? `/jobs?q=${encodeURIComponent(q)}` : '/jobs'}>First page</Link>}
          {page.nextCursor && <Link href={`/jobs?cursor=${encodeURIComponent(page.nextCursor)}${q ? `&q=${encodeURIComponent(q)}` : ''}`}>Next page</Link>}
        </nav>
      )}
    </>
  );
}
