import type { Metadata } from 'next';
import Link from 'next/link';
import { requireSession } from '@/lib/auth/session';
import { LOST_AFTER_MS, RUNS_WINDOW_MS, listInstancesWithActivity } from '@/lib/services/instances';
import { listRunningOn } from '@/lib/services/runs';
import { formatSignedDuration } from '@/lib/presenters/format';
import { LiveRefresh } from '../_components/live';
import { Time } from '../_components/time';

/** Running runs listed per instance; the rest is one click away in the run history. */
const RUNNING_SHOWN = 10;

export const metadata: Metadata = { title: 'Instances' };

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
            {live} live of {instances.length}. An instance is lost when it has not been seen for {LOST_AFTER_MS / 1000} s (by the
            database clock); stopped and lost instances are forgotten by the prune-runs system job after a day.
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
        <div className="table-wrap">
          <table className="table stack instances" aria-label="Instances">
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">State</th>
                <th scope="col">Host</th>
                <th scope="col">PID</th>
                <th scope="col">Version</th>
                <th scope="col">Started</th>
                <th scope="col">Last seen</th>
                <th scope="col" title="Local clock minus database clock">
                  Clock skew
                </th>
                <th scope="col">Running now</th>
                <th scope="col" title={`Runs started in the last ${RUNS_WINDOW_MS / 60_000} minutes`}>
                  Runs, last hour
                </th>
              </tr>
            </thead>
            <tbody>
              {instances.map((i, index) => {
                const runs = running[index] ?? [];
                return (
                  <tr key={i.id} id={`instance-${i.id}`} data-state={i.state} data-instance-id={i.id}>
                    <td data-label="Instance">
                      <code>{i.id}</code>
                      <br />
                      <Link href={`/runs?instance=${encodeURIComponent(i.id)}`} className="small">
                        Its runs
                      </Link>
                    </td>
                    <td data-label="State">
                      <span className={`badge badge-${i.state}`}>{i.state}</span>
                      {i.state === 'stopped' && i.stoppedAt && (
                        <span className="muted small">
                          {' '}
                          <Time iso={i.stoppedAt.toISOString()} relativeOnly />
                        </span>
                      )}
                    </td>
                    <td data-label="Host">{i.host}</td>
                    <td data-label="PID" className="num">
                      {i.pid}
                    </td>
                    <td data-label="Version">{i.version}</td>
                    <td data-label="Started">
                      <Time iso={i.startedAt.toISOString()} showRelative />
                    </td>
                    <td data-label="Last seen">
                      <Time iso={i.lastSeenAt.toISOString()} relativeOnly />
                    </td>
                    <td data-label="Clock skew" className={`num${Math.abs(i.clockSkewMs) > 1000 ? ' warn-text' : ''}`}>
                      {formatSignedDuration(i.clockSkewMs, { plus: true })}
                    </td>
                    <td data-label="Running now" data-testid="running-now">
                      {runs.length === 0 ? (
                        <span className="muted">idle</span>
                      ) : (
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
                              <Link href={`/runs?instance=${encodeURIComponent(i.id)}&status=running`}>more…</Link>
                            </li>
                          )}
                        </ul>
                      )}
                    </td>
                    <td data-label="Runs, last hour" className="num" data-testid="runs-last-hour">
                      {i.runsLastHour > 0 ? (
                        <Link href={`/runs?instance=${encodeURIComponent(i.id)}&range=1h`}>{i.runsLastHour.toLocaleString('en-US')}</Link>
                      ) : (
                        <span className="muted">0</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
