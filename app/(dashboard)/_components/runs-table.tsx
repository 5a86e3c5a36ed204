import Link from 'next/link';
import { durationBetween, excerpt } from '@/lib/presenters/format';
import type { Run } from '@/lib/store/types';
import { StatusBadge } from './badges';
import { Time } from './time';

/** Where an instance is shown: its row on the instances page. */
export function instanceHref(id: string): string {
  return `/instances#instance-${encodeURIComponent(id)}`;
}

export function InstanceLink({ id }: { id: string | null }) {
  if (!id) return <span className="muted">—</span>;
  return (
    <Link href={instanceHref(id)} className="instance">
      <code>{id}</code>
    </Link>
  );
}

/**
 * Runs, newest first. On narrow screens each row becomes a stacked card (CSS, via data-label), so a
 * phone shows every field without sideways scrolling.
 */
export function RunsTable({ runs, showJob = false, zone, label = 'Runs' }: { runs: Run[]; showJob?: boolean; zone?: string; label?: string }) {
  return (
    <div className="table-wrap">
      <table className="table runs stack" aria-label={label}>
        <thead>
          <tr>
            {showJob && <th scope="col">Job</th>}
            <th scope="col">Scheduled for</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col">Duration</th>
            <th scope="col">Status</th>
            <th scope="col">Instance</th>
            <th scope="col">Attempt</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <RunRow key={run.id} run={run} showJob={showJob} zone={zone} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunRow({ run, showJob, zone }: { run: Run; showJob: boolean; zone: string | undefined }) {
  const detail = run.error ?? run.output;
  return (
    <tr data-run-id={run.id} data-status={run.status} data-trigger={run.trigger} data-job-id={run.jobId} data-scheduled-for={run.scheduledFor.toISOString()}>
      {showJob && (
        <td data-label="Job">
          <Link href={`/jobs/${run.jobId}`} className="row-link">
            {run.jobName}
          </Link>
        </td>
      )}
      <td data-label="Scheduled for">
        <Link href={`/runs/${run.id}`} className="run-link" title="Run details">
          <Time iso={run.scheduledFor.toISOString()} zone={zone} />
        </Link>
        {run.trigger !== 'schedule' && <span className="tag">{run.trigger}</span>}
      </td>
      <td data-label="Started">
        <Time iso={run.startedAt?.toISOString() ?? null} />
      </td>
      <td data-label="Finished">
        <Time iso={run.finishedAt?.toISOString() ?? null} />
      </td>
      <td data-label="Duration" className="num">
        {durationBetween(run.startedAt, run.finishedAt) ?? <span className="muted">—</span>}
      </td>
      <td data-label="Status">
        <StatusBadge status={run.status} />
      </td>
      <td data-label="Instance">
        <InstanceLink id={run.instanceId} />
      </td>
      <td data-label="Attempt" className="num">
        {run.attempt}
      </td>
      <td data-label="Details" className="detail-cell">
        {detail ? (
          <details>
            <summary className={run.error ? 'error-text' : undefined}>{excerpt(detail, 60)}</summary>
            {run.error && <pre className="code error-text">{run.error}</pre>}
            {run.output && <pre className="code">{run.output}</pre>}
          </details>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}
