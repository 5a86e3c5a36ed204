import Link from 'next/link';
import { durationBetween, excerpt } from '@/lib/presenters/format';
import type { Run } from '@/lib/store/types';
import { StatusBadge } from './badges';
import { DataTable, type Column } from './data-table';
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

/** Runs, newest first; on narrow screens each row becomes a stacked card, so a phone shows every field without sideways scrolling. */
export function RunsTable({
  runs,
  showJob = false,
  zone,
  label = 'Runs',
}: {
  runs: Run[];
  showJob?: boolean;
  zone?: string;
  label?: string;
}) {
  const columns: ReadonlyArray<Column<Run> | false> = [
    showJob && {
      header: 'Job',
      cell: (run) => (
        <Link href={`/jobs/${run.jobId}`} className="row-link">
          {run.jobName}
        </Link>
      ),
    },
    {
      header: 'Scheduled for',
      cell: (run) => (
        <>
          <Link href={`/runs/${run.id}`} className="run-link" title="Run details">
            <Time iso={run.scheduledFor.toISOString()} zone={zone} />
          </Link>
          {run.trigger !== 'schedule' && <span className="tag">{run.trigger}</span>}
        </>
      ),
    },
    { header: 'Started', cell: (run) => <Time iso={run.startedAt?.toISOString() ?? null} /> },
    { header: 'Finished', cell: (run) => <Time iso={run.finishedAt?.toISOString() ?? null} /> },
    {
      header: 'Duration',
      className: 'num',
      cell: (run) => durationBetween(run.startedAt, run.finishedAt) ?? <span className="muted">—</span>,
    },
    { header: 'Status', cell: (run) => <StatusBadge status={run.status} /> },
    { header: 'Instance', cell: (run) => <InstanceLink id={run.instanceId} /> },
    { header: 'Attempt', className: 'num', cell: (run) => run.attempt },
    { header: 'Details', className: 'detail-cell', cell: (run) => <RunDetails run={run} /> },
  ];
  return (
    <DataTable
      label={label}
      className="runs"
      stacked
      columns={columns}
      rows={runs}
      rowKey={(run) => run.id}
      rowAttributes={(run) => ({
        'data-run-id': run.id,
        'data-status': run.status,
        'data-trigger': run.trigger,
        'data-job-id': run.jobId,
        'data-scheduled-for': run.scheduledFor.toISOString(),
      })}
    />
  );
}

/** The error or output excerpt, the whole text one click away. */
function RunDetails({ run }: { run: Run }) {
  const detail = run.error ?? run.output;
  if (!detail) return <span className="muted">—</span>;
  return (
    <details>
      <summary className={run.error ? 'error-text' : undefined}>{excerpt(detail, 60)}</summary>
      {run.error && <pre className="code error-text">{run.error}</pre>}
      {run.output && <pre className="code">{run.output}</pre>}
    </details>
  );
}
