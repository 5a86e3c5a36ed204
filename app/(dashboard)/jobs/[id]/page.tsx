import type { Metadata } from 'next';
import Link from 'next/link';
import { describeSchedule, nextOccurrences } from '@/lib/schedule';
import { hasRole } from '@/lib/auth/principal';
import { requireActor, requireSession } from '@/lib/auth/session';
import { listAlertChannelNames } from '@/lib/services/alert-rules';
import { latestAlertsOfJob } from '@/lib/services/alerts';
import { listJobRuns } from '@/lib/services/jobs';
import { parseStatsRange } from '@/lib/presenters/run-stats';
import { getSigningSecretInfo } from '@/lib/services/signing-secrets';
import { getRunStats } from '@/lib/services/stats';
import { TimeCursorSchema, validCursor } from '@/lib/validation/cursor';
import { CANCELLABLE_RUN_STATUSES } from '@/lib/domain';
import { PAUSE_NOTE_MAX } from '@/lib/validation/job';
import { CANCEL_REASON_MAX } from '@/lib/validation/run';
import { StatusBadge } from '../../_components/badges';
import { CancelRunButton } from '../../_components/cancel-run';
import { StatsCharts } from '../../_components/charts';
import { LiveRefresh } from '../../_components/live';
import { PausedBadge } from '../../_components/badges';
import { RunsTable } from '../../_components/runs-table';
import { AlertTable } from '../../_components/alert-table';
import { BadCursorNotice, Notice } from '../../_components/notice';
import { PauseRecordLine } from '../../_components/pause';
import { Time } from '../../_components/time';
import { pauseJobAction, resumeJobAction, runJobNowAction } from '../actions';
import { loadJob } from './load';
import { SigningSecretControls } from './signing-secret';

const RUNS_PER_PAGE = 20;

type Params = Promise<{ id: string }>;
type Search = Promise<{ cursor?: string | string[]; notice?: string | string[]; range?: string | string[] }>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const job = await loadJob((await params).id);
  return { title: job.name };
}

export default async function JobPage({ params, searchParams }: { params: Params; searchParams: Search }) {
  const session = await requireSession();
  const { id } = await params;
  const search = await searchParams;
  const job = await loadJob(id);
  const cursor = validCursor(TimeCursorSchema, one(search.cursor));
  const badCursor = Boolean(one(search.cursor)) && cursor === undefined;
  const range = parseStatsRange(one(search.range));
  const actor = await requireActor('viewer');
  const [runs, stats, signing, alerts, channelNames] = await Promise.all([
    listJobRuns(job.id, { limit: RUNS_PER_PAGE, cursor }),
    getRunStats(range, job.id),
    getSigningSecretInfo(job),
    latestAlertsOfJob(actor, job.id),
    listAlertChannelNames(),
  ]);
  // The next occurrences count from the database clock, which the stats service read for the chart window.
  const upcoming = job.paused ? [] : nextOccurrences(job.schedule, stats.now, job.anchorAt, 5);
  const zone = job.schedule.kind === 'cron' ? job.schedule.timezone : undefined;
  // Viewers see no mutating control; the actions refuse them on the server as well.
  const canEdit = hasRole(session, 'operator');
  // Its claimed, running and retrying runs (on this page of its history): each with a Cancel button for operators; one
  // cancelled in the last minute stays listed (without the button), so the answer stays in view after a live refresh.
  const cancellable = (status: string): boolean => (CANCELLABLE_RUN_STATUSES as readonly string[]).includes(status);
  const active = runs.items.filter(
    (r) =>
      cancellable(r.status) || (r.status === 'cancelled' && r.finishedAt !== null && stats.now.getTime() - r.finishedAt.getTime() < 60_000),
  );

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <span>{job.name}</span>
      </nav>
      <div className="page-head">
        <div>
          <h1>
            {job.name} <PausedBadge paused={job.paused} />
          </h1>
          {job.description && <p className="muted">{job.description}</p>}
          <PauseRecordLine pause={job.pause} />
        </div>
        {canEdit && (
          <div className="page-actions">
            {job.paused ? (
              <form action={resumeJobAction.bind(null, job.id)}>
                <button type="submit" className="btn">
                  Resume
                </button>
              </form>
            ) : (
              <form action={pauseJobAction.bind(null, job.id)} className="pause-form" aria-label="Pause">
                <input type="text" name="note" maxLength={PAUSE_NOTE_MAX} placeholder="Why? (optional note)" aria-label="Pause note" />
                <button type="submit" className="btn">
                  Pause
                </button>
              </form>
            )}
            <form action={runJobNowAction.bind(null, job.id)}>
              <button type="submit" className="btn">
                Run now
              </button>
            </form>
            <Link href={`/jobs/${job.id}/edit`} className="btn">
              Edit
            </Link>
            <Link href={`/jobs/${job.id}/delete`} className="btn btn-danger">
              Delete
            </Link>
          </div>
        )}
      </div>
      <Notice code={one(search.notice)} />

      <div className="panels">
        <section className="panel" aria-labelledby="settings-h">
          <h2 id="settings-h">Settings</h2>
          <dl className="props">
            <dt>Type</dt>
            <dd>
              <code>{job.type}</code>
            </dd>
            <dt>Schedule</dt>
            <dd>
              <span data-testid="schedule-words">{describeSchedule(job.schedule)}</span>
              <br />
              <code className="muted">{rawSchedule(job.schedule)}</code>
            </dd>
            {zone && (
              <>
                <dt>Time zone</dt>
                <dd>{zone}</dd>
              </>
            )}
            <dt>Timeout</dt>
            <dd>{job.timeoutSeconds} s</dd>
            <dt>When still running</dt>
            <dd>{job.overlapPolicy}</dd>
            <dt>Missed occurrences</dt>
            <dd>{job.missedPolicy}</dd>
            <dt>Retries</dt>
            <dd data-testid="job-retry">
              {job.retry.maxAttempts <= 1
                ? 'none (1 attempt)'
                : `up to ${job.retry.maxAttempts} attempts, backoff ${job.retry.backoffSeconds} s doubling, capped at ${job.retry.maxBackoffSeconds} s`}
            </dd>
            <dt>Concurrency limit</dt>
            <dd data-testid="job-concurrency">
              {job.concurrencyLimit === null ? 'no limit' : `${job.concurrencyLimit} at once across the cluster`}
            </dd>
            <dt>Auto-pause</dt>
            <dd data-testid="job-auto-pause">
              {job.autoPause === null ? 'never' : `after ${job.autoPause.afterFailures} consecutive failed occurrences`}
            </dd>
            {job.tags.length > 0 && (
              <>
                <dt>Tags</dt>
                <dd>{job.tags.join(', ')}</dd>
              </>
            )}
            <dt>Payload</dt>
            <dd>
              <pre className="code">{JSON.stringify(job.payload, null, 2)}</pre>
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={job.createdAt.toISOString()} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time iso={job.updatedAt.toISOString()} />
            </dd>
          </dl>
        </section>
        <section className="panel" aria-labelledby="next-h">
          <h2 id="next-h">Next occurrences</h2>
          {job.paused ? (
            <p className="muted">Paused: nothing is scheduled until the job is resumed.</p>
          ) : upcoming.length === 0 ? (
            <p className="muted">No future occurrence.</p>
          ) : (
            <ol className="occurrences" data-testid="next-occurrences">
              {upcoming.map((d) => (
                <li key={d.getTime()}>
                  <Time iso={d.toISOString()} zone={zone} showRelative />
                </li>
              ))}
            </ol>
          )}
          {zone && <p className="muted small">Times in your time zone; the job&apos;s zone ({zone}) in brackets.</p>}
        </section>
      </div>

      {signing && (
        <section className="panel panel-row" aria-labelledby="signing-h" data-testid="signing-secret-panel">
          <h2 id="signing-h">Delivery signing</h2>
          <p className="muted small">
            Every delivery carries <code>webhook-id</code> (the same on every attempt of an occurrence), <code>webhook-timestamp</code> and{' '}
            <code>webhook-signature</code> (Standard Webhooks): verify them with this secret and apply each webhook-id once.
          </p>
          <dl className="props">
            <dt>Secret made</dt>
            <dd data-testid="signing-secret-created">
              {signing.createdAt ? <Time iso={signing.createdAt.toISOString()} showRelative /> : 'not yet (made at the first delivery)'}
            </dd>
            {signing.previousValidUntil && (
              <>
                <dt>Previous secret signs until</dt>
                <dd data-testid="signing-secret-previous">
                  <Time iso={signing.previousValidUntil.toISOString()} showRelative />
                </dd>
              </>
            )}
          </dl>
          {canEdit && <SigningSecretControls jobId={job.id} />}
        </section>
      )}

      <StatsCharts series={stats.series} range={range} scope="" hrefFor={(r) => `/jobs/${job.id}?range=${r}`} />

      <section aria-labelledby="alerts-h">
        <div className="section-head">
          <h2 id="alerts-h">Latest alerts</h2>
          <div className="page-actions">
            <Link href={`/alerts?jobId=${job.id}`} className="btn btn-ghost btn-sm">
              All alerts of this job
            </Link>
          </div>
        </div>
        {job.alerts.length === 0 && <p className="muted small">This job has no alert rules of its own (defaults may apply).</p>}
        {alerts.length === 0 ? (
          <p className="empty muted">No alerts yet.</p>
        ) : (
          <AlertTable label="Latest alerts" alerts={alerts} channelNames={channelNames} showJob={false} />
        )}
      </section>

      <section aria-labelledby="runs-h">
        <div className="section-head">
          <h2 id="runs-h">Runs</h2>
          <div className="page-actions">
            <Link href={`/runs?job=${job.id}`} className="btn btn-ghost btn-sm">
              Filter in run history
            </Link>
            <LiveRefresh topics={['jobs', 'runs']} />
          </div>
        </div>
        <BadCursorNotice show={badCursor} />
        {canEdit && active.length > 0 && (
          <ul className="active-runs" data-testid="active-runs" aria-label="Runs in progress">
            {active.map((run) => (
              <li key={run.id} data-testid="active-run">
                <StatusBadge status={run.status} /> <Link href={`/runs/${run.id}`}>due</Link>{' '}
                <Time iso={run.scheduledFor.toISOString()} zone={zone} />{' '}
                <CancelRunButton runId={run.id} reasonMax={CANCEL_REASON_MAX} open={cancellable(run.status)} compact />
              </li>
            ))}
          </ul>
        )}
        {runs.items.length === 0 ? (
          <p className="empty muted">{cursor ? 'No older runs.' : 'No runs yet.'}</p>
        ) : (
          <RunsTable runs={runs.items} zone={zone} />
        )}
        {(cursor || runs.nextCursor) && (
          <nav className="pager" aria-label="Run pages">
            {cursor && <Link href={`/jobs/${job.id}`}>Newest runs</Link>}
            {runs.nextCursor && <Link href={`/jobs/${job.id}?cursor=${encodeURIComponent(runs.nextCursor)}`}>Older runs</Link>}
          </nav>
        )}
      </section>
    </>
  );
}

function rawSchedule(schedule: import('@/lib/validation/schedule').Schedule): string {
  switch (schedule.kind) {
    case 'cron':
      return `cron "${schedule.expression}" ${schedule.timezone}`;
    case 'interval':
      return `interval ${schedule.seconds} s`;
    case 'once':
      return `once ${schedule.at}`;
  }
}
