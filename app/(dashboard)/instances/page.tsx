import type { Metadata } from 'next';
import Link from 'next/link';
import { requireSession } from '@/lib/auth/session';
import { LOST_AFTER_MS, RUNS_WINDOW_MS, listInstancesWithActivity, type InstanceActivity } from '@/lib/services/instances';
import type { Run } from '@/lib/store/types';
import { listRunningOn } from '@/lib/services/runs';
import { formatSignedDuration } from '@/lib/presenters/format';
import { DataTable, type Column } from '../_components/data-table';
import { LiveRefresh } from '../_components/live';
import { Time } from '../_components/time';

/** Running runs listed per instance; the rest is one click away in the run history. */
const RUNNING_SHOWN = 10;

export const metadata: Metadata = { title: 'Instances' };

/** An instance with the runs it has going now (at most RUNNING_SHOWN + 1, to know whether there are more). */
type InstanceRow = InstanceActivity & { running: Run[] };

const COLUMNS: ReadonlyArray<Column<InstanceRow>> = [
  {
    header: 'Instance',
    cell: (i) => (
      <>
        <code>{i.id}</code>
        <br />
        <Link href={`/runs?instance=${encodeURIComponent(i.id)}`} className="small">
          Its runs
        </Link>
      </>
    ),
  },
  {
    header: 'State',
    cell: (i) => (
      <>
        <span className={`badge badge-${i.state}`}>{i.state}</span>
        {i.state === 'stopped' && i.stoppedAt && (
          <span className="muted small">
            {' '}
            <Time iso={i.stoppedAt.toISOString()} relativeOnly />
          </span>
        )}
      </>
    ),
  },
  { header: 'Host', cell: (i) => i.host },
  { header: 'PID', className: 'num', cell: (i) => i.pid },
  { header: 'Version', cell: (i) => i.version },
  { header: 'Started', cell: (i) => <Time iso={i.startedAt.toISOString()} showRelative /> },
  { header: 'Last seen', cell: (i) => <Time iso={i.lastSeenAt.toISOString()} relativeOnly /> },
  {
    header: 'Clock skew',
    title: 'Local clock minus database clock',
    className: (i) => `num${Math.abs(i.clockSkewMs) > 1000 ? ' warn-text' : ''}`,
    cell: (i) => formatSignedDuration(i.clockSkewMs, { plus: true }),
  },
  { header: 'Running now', testId: 'running-now', cell: (i) => <RunningNow instanceId={i.id} runs={i.running} /> },
  {
    header: 'Runs, last hour',
    title: `Runs started in the last ${RUNS_WINDOW_MS / 60_000} minutes`,
    className: 'num',
    testId: 'runs-last-hour',
    cell: (i) =>
      i.runsLastHour > 0 ? (
        <Link href={`/runs?instance=${encodeURIComponent(i.id)}&range=1h`}>{i.runsLastHour.toLocaleString('en-US')}</Link>
      ) : (
        <span className="muted">0</span>
      ),
  },
];

function RunningNow({ instanceId, runs }: { instanceId: string; runs: Run[] }) {
  if (runs.length === 0) return <span className="muted">idle</span>;
  return (
    <ul className="plain-list">
      {runs.slice(0, RUNNING_SHOWN).map((r) => (
        <li key={r.id}>
          <Link href={`/runs/${r.id}`}>{r.jobName}</Link>{' '}
          <span className="muted small">
            since <Time iso={(r.startedAt ?? r.scheduledFor).toISOString()} relativeOnly />
          </span>
        </li>
      ))}
      {runs.length > RUNNING_SHOWN && (
        <li>
          <Link href={`/runs?instance=${encodeURIComponent(instanceId)}&status=running`}>more…</Link>
        </li>
      )}
    </ul>
  );
}

export default async function InstancesPage() {
  await requireSession();
  const { instances } = await listInstancesWithActivity();
  // One indexed query per instance; clusters have a handful of instances.
  const running = await Promise.all(instances.map((i) => listRunningOn(i.id, RUNNING_SHOWN + 1)));
  const live = instances.filter((i) => i.state === 'live').length;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Instances</h1>
          <p className="muted">
            {live} live of {instances.length}. An instance is lost when it has not been seen for {LOST_AFTER_MS / 1000} s (by the database
            clock); stopped and lost instances are forgotten by the prune-runs system job after a day.
          </p>
        </div>
        <div className="page-actions">
          <LiveRefresh topics={['instances', 'runs']} />
        </div>
      </div>
      {instances.length === 0 ? (
        <div className="empty">
          <p>No instance has registered yet. Every `next start` registers itself when its scheduler starts.</p>
        </div>
      ) : (
        <DataTable
          label="Instances"
          className="instances"
          stacked
          columns={COLUMNS}
          rows={instances.map((instance, index) => ({ ...instance, running: running[index] ?? [] }))}
          rowKey={(i) => i.id}
          rowAttributes={(i) => ({ id: `instance-${i.id}`, 'data-state': i.state, 'data-instance-id': i.id })}
        />
      )}
    </>
  );
}
