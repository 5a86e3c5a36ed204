import type { Metadata } from 'next';
import { LOST_AFTER_MS, listInstances } from '@/lib/services/instances';
import { AutoRefresh } from '../_components/auto-refresh';
import { Time } from '../_components/time';

export const metadata: Metadata = { title: 'Instances' };

function skew(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs < 1000 ? `${Math.round(abs)} ms` : `${(abs / 1000).toFixed(1)} s`;
  return ms === 0 ? '0 ms' : `${ms > 0 ? '+' : '−'}${text}`;
}

export default async function InstancesPage() {
  const { instances } = await listInstances();
  const live = instances.filter((i) => i.state === 'live').length;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Instances</h1>
          <p className="muted">
            {live} live of {instances.length}. An instance is lost when it has not been seen for {LOST_AFTER_MS / 1000} s.
          </p>
        </div>
        <div className="page-actions">
          <AutoRefresh />
        </div>
      </div>
      {instances.length === 0 ? (
        <div className="empty">
          <p>No instance has registered yet. Every `next start` registers itself when its scheduler starts.</p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Instances">
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
              </tr>
            </thead>
            <tbody>
              {instances.map((i) => (
                <tr key={i.id} data-state={i.state}>
                  <td>
                    <code>{i.id}</code>
                  </td>
                  <td>
                    <span className={`badge badge-${i.state}`}>{i.state}</span>
                  </td>
                  <td>{i.host}</td>
                  <td className="num">{i.pid}</td>
                  <td>{i.version}</td>
                  <td>
                    <Time iso={i.startedAt.toISOString()} showRelative />
                  </td>
                  <td>
                    <Time iso={i.lastSeenAt.toISOString()} relativeOnly />
                  </td>
                  <td className={`num${Math.abs(i.clockSkewMs) > 1000 ? ' warn-text' : ''}`}>{skew(i.clockSkewMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
