import Link from 'next/link';
import type { Alert } from '@/lib/store/types';
import { DataTable, type Column } from './data-table';
import { Time } from './time';

/** The alerts of the Alerts page and of a job page's section: event, job, channel, delivery, times. */
export function AlertTable({
  label,
  alerts,
  channelNames,
  showJob = true,
}: {
  label: string;
  alerts: Alert[];
  channelNames: Record<string, string>;
  showJob?: boolean;
}) {
  const columns: Array<Column<Alert>> = [
    { header: 'When', cell: (a) => <Time iso={a.createdAt.toISOString()} /> },
    {
      header: 'Event',
      cell: (a) => (
        <>
          <code>{a.event}</code> <span className="small">{a.title}</span>
        </>
      ),
    },
    ...(showJob
      ? [
          {
            header: 'Job',
            cell: (a: Alert) =>
              a.jobId ? <Link href={`/jobs/${a.jobId}`}>{a.jobName ?? a.jobId}</Link> : a.instanceId ? `instance ${a.instanceId}` : '—',
          },
        ]
      : []),
    { header: 'Channel', cell: (a) => channelNames[a.channelId] ?? <span className="muted">{a.channelId} (deleted)</span> },
    {
      header: 'Status',
      cell: (a) => (
        <span className={`badge status-${a.status}`} data-testid="alert-status">
          {a.status}
          {a.suppressedCount > 0 ? ` (+${a.suppressedCount} held back)` : ''}
        </span>
      ),
    },
    { header: 'Attempts', cell: (a) => a.attempts },
    { header: 'Last error', cell: (a) => (a.lastError ? <span className="small mono">{a.lastError}</span> : '—') },
    {
      header: 'Sent / next try',
      cell: (a) =>
        a.sentAt ? <Time iso={a.sentAt.toISOString()} /> : a.status === 'pending' ? <Time iso={a.nextAttemptAt.toISOString()} /> : '—',
    },
  ];
  return (
    <DataTable
      label={label}
      testId="alerts-table"
      columns={columns}
      rows={alerts}
      rowKey={(a) => a.id}
      rowAttributes={(a) => ({ 'data-event': a.event, 'data-status': a.status })}
    />
  );
}
