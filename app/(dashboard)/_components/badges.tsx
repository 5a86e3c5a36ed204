import type { RunStatus } from '@/lib/store/types';

const LABEL: Record<RunStatus, string> = {
  claimed: 'claimed',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  'timed-out': 'timed out',
  skipped: 'skipped',
  missed: 'missed',
  abandoned: 'abandoned',
  unknown: 'outcome unknown',
  retrying: 'retrying',
  cancelled: 'cancelled',
};

export function StatusBadge({ status }: { status: RunStatus }) {
  return <span className={`badge badge-${status}`}>{LABEL[status] ?? status}</span>;
}

export function PausedBadge({ paused }: { paused: boolean }) {
  return paused ? <span className="badge badge-paused">paused</span> : <span className="badge badge-active">active</span>;
}
