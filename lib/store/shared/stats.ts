import { ValidationError } from '../../errors';

/** Bucket width in ms for runStats; it must be positive. */
export function bucketMillis(bucketSeconds: number): number {
  const ms = Math.round(bucketSeconds * 1000);
  if (!Number.isFinite(ms) || ms < 1) throw new ValidationError([{ path: 'bucketSeconds', message: 'bucketSeconds must be positive' }]);
  return ms;
}

/** PostgreSQL's percentile_cont over ascending `sorted`: linear interpolation between the closest ranks. */
export function percentileCont(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const pos = fraction * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
