import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { cache } from 'react';
import { hasRole } from '@/lib/auth/principal';
import { requireSession } from '@/lib/auth/session';
import { CANCELLABLE_RUN_STATUSES } from '@/lib/domain';
import { NotFoundError } from '@/lib/errors';
import { formatDuration, formatSignedDuration } from '@/lib/presenters/format';
import { getRunDetail, getRunOutput, listRunAttempts, type RunAttemptRow, type RunDetail } from '@/lib/services/runs';
import { CANCEL_REASON_MAX } from '@/lib/validation/run';
import { StatusBadge } from '../../_components/badges';
import { CancelRunButton } from '../../_components/cancel-run';
import { DataTable, type Column } from '../../_components/data-table';
import { LiveRefresh } from '../../_components/live';
import { InstanceLink } from '../../_components/runs-table';
import { Time } from '../../_components/time';
import { RunLiveOutput } from './live-output';

type Params = Promise<{ id: string }>;

/** The run or the 404 page, for a live session only (the metadata and the page both read it); one query per request. */
const load = cache(async (id: string): Promise<RunDetail> => {
  await requireSession();
  try {
    return await getRunDetail(id);
  } catch (err) {
    if (err instanceof NotFoundError) notFound();
    throw err;
  }
});

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { run } = await load((await params).id);
  return { title: `Run of ${run.jobName}` };
}

const TRIGGER_WORDS: Record<string, string> = {
  schedule: 'its schedule',
  manual: 'an operator (run now)',
  'catch-up': 'a catch-up: started late (after downtime, or a takeover)',
};

function ms(value: number | null, signed = false): string {
  if (value === null) return '—';
  return signed ? formatSignedDuration(value) : formatDuration(Math.max(0, value));
}

const ATTEMPT_COLUMNS: ReadonlyArray<Column<RunAttemptRow>> = [
  {
    header: 'Attempt',
    cell: (a) => (
      <>
        {a.attempt}
        {a.current && <span className="muted"> (current)</span>}
      </>
    ),
  },
  { header: 'Instance', cell: (a) => <InstanceLink id={a.instanceId} /> },
  { header: 'Started', cell: (a) => <Time iso={a.startedAt?.toISOString() ?? null} empty="not started" /> },
  { header: 'Finished', cell: (a) => <Time iso={a.finishedAt?.toISOString() ?? null} empty="—" /> },
  { header: 'Status', cell: (a) => <StatusBadge status={a.status} /> },
  { header: 'Error', className: 'error-text small', cell: (a) => a.error ?? '' },
];

export default async function RunPage({ params }: { params: Params }) {
  const session = await requireSession();
  const { id } = await params;
  const { run, job, webhookId, now } = await load(id);
  const [history, liveOutput] = await Promise.all([listRunAttempts(run.id), getRunOutput(run.id)]);
  const duration = run.startedAt ? (run.finishedAt ?? now).getTime() - run.startedAt.getTime() : null;
  const lag = run.startedAt ? run.startedAt.getTime() - run.scheduledFor.getTime() : null;
  const zone = job?.schedule.kind === 'cron' ? job.schedule.timezone : undefined;
  const cancellable = (CANCELLABLE_RUN_STATUSES as readonly string[]).includes(run.status);

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/runs">Runs</Link> <span aria-hidden="true">/</span> <span>{run.id}</span>
      </nav>
      <div className="page-head">
        <div>
          <h1>
            Run of {job ? <Link href={`/jobs/${job.id}`}>{job.name}</Link> : <span>{run.jobName}</span>} <StatusBadge status={run.status} />
          </h1>
          {!job && (
            <p className="muted" data-testid="job-deleted">
              The job “{run.jobName}” has been deleted; its runs are kept.
            </p>
          )}
        </div>
        <div className="page-actions">
          {job && (
            <Link href={`/runs?job=${job.id}`} className="btn btn-sm">
              All runs of this job
            </Link>
          )}
          {hasRole(session, 'operator') && (cancellable || run.cancel) && (
            <CancelRunButton runId={run.id} reasonMax={CANCEL_REASON_MAX} open={cancellable} />
          )}
          {cancellable && <LiveRefresh topics={['runs']} />}
        </div>
      </div>

      <div className="panels">
        <section className="panel" aria-labelledby="timing-h">
          <h2 id="timing-h">Timing</h2>
          <dl className="props" data-testid="run-timing">
            <dt>Due</dt>
            <dd>
              <Time iso={run.scheduledFor.toISOString()} zone={zone} showRelative />
            </dd>
            {run.rangeEnd && (
              <>
                <dt title="This one record stands for every occurrence from the due time through this one">Covers</dt>
                <dd data-testid="run-range">
                  {run.rangeCount === null ? 'every occurrence' : `${run.rangeCount} occurrences`} through{' '}
                  <Time iso={run.rangeEnd.toISOString()} zone={zone} />
                </dd>
              </>
            )}
            <dt>Started</dt>
            <dd>
              <Time
                iso={run.startedAt?.toISOString() ?? null}
                empty={run.status === 'claimed' ? 'claimed, starts when due' : 'not started'}
              />
            </dd>
            <dt>Finished</dt>
            <dd>
              <Time iso={run.finishedAt?.toISOString() ?? null} empty={run.status === 'running' ? 'still running' : '—'} />
            </dd>
            <dt>Duration</dt>
            <dd data-testid="run-duration">
              {ms(duration)}
              {run.status === 'running' && duration !== null && <span className="muted"> so far</span>}
            </dd>
            <dt title="Started minus due: how late the scheduler picked it up">Start lag</dt>
            <dd data-testid="run-lag" className={lag !== null && lag > 5_000 ? 'warn-text' : undefined}>
              {ms(lag, true)}
            </dd>
            {run.leaseExpiresAt && (run.status === 'running' || run.status === 'claimed') && (
              <>
                <dt>Lease until</dt>
                <dd>
                  <Time iso={run.leaseExpiresAt.toISOString()} showRelative />
                </dd>
              </>
            )}
          </dl>
        </section>
        <section className="panel" aria-labelledby="where-h">
          <h2 id="where-h">Run</h2>
          <dl className="props">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={run.status} />
            </dd>
            <dt>Triggered by</dt>
            <dd data-testid="run-trigger">{TRIGGER_WORDS[run.trigger] ?? run.trigger}</dd>
            <dt>Attempt</dt>
            <dd>{run.attempt}</dd>
            {run.cancel && (
              <>
                <dt>{run.status === 'cancelled' ? 'Cancelled' : 'Cancel requested'}</dt>
                <dd data-testid="run-cancel">
                  by <strong>{run.cancel.by.name}</strong> at <Time iso={run.cancel.at.toISOString()} />
                  {run.cancel.reason ? (
                    <>
                      : <q>{run.cancel.reason}</q>
                    </>
                  ) : null}
                </dd>
              </>
            )}
            <dt>Instance</dt>
            <dd>
              <InstanceLink id={run.instanceId} />
            </dd>
            <dt>Job</dt>
            <dd>
              {job ? (
                <Link href={`/jobs/${job.id}`}>{job.name}</Link>
              ) : (
                <span>
                  {run.jobName} <span className="badge">deleted job</span>
                </span>
              )}
            </dd>
            <dt>Run id</dt>
            <dd>
              <code>{run.id}</code>
            </dd>
            {webhookId && (
              <>
                <dt title="Sent as webhook-id and Idempotency-Key on every attempt of this occurrence: the receiver applies it once">
                  Webhook id
                </dt>
                <dd>
                  <code data-testid="run-webhook-id">{webhookId}</code>
                </dd>
              </>
            )}
          </dl>
        </section>
      </div>

      {history.length > 1 && (
        <section aria-labelledby="attempts-h">
          <h2 id="attempts-h" className="section-title">
            Attempts
          </h2>
          <DataTable
            testId="run-attempts"
            columns={ATTEMPT_COLUMNS}
            rows={history}
            rowKey={(a) => a.attempt}
            rowAttributes={() => ({ 'data-testid': 'run-attempt' })}
          />
        </section>
      )}

      <section aria-labelledby="error-h">
        <h2 id="error-h" className="section-title">
          Error
        </h2>
        {run.error ? (
          <pre className="code error-text output" data-testid="run-error">
            {run.error}
          </pre>
        ) : (
          <p className="muted">No error.</p>
        )}
      </section>
      <section aria-labelledby="output-h">
        <h2 id="output-h" className="section-title">
          Output
        </h2>
        {liveOutput.live ? (
          <RunLiveOutput
            key={`${run.id}:${run.attempt}`}
            runId={run.id}
            attempt={run.attempt}
            chunks={liveOutput.chunks.map((c) => ({ attempt: c.attempt, seq: c.seq, offset: c.offset, text: c.text }))}
          />
        ) : (
          <>
            {run.output ? (
              <pre className="code output" data-testid="run-output">
                {run.output}
              </pre>
            ) : (
              <p className="muted">No output recorded.</p>
            )}
            <p className="muted small">Output and error are kept as a bounded excerpt of what the run produced.</p>
          </>
        )}
      </section>
    </>
  );
}
