import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STATS_RANGES, fillRunStats, niceCeiling, parseStatsRange, statsWindow, summarizeRuns } from '../../lib/presenters/run-stats';
import type { RunStatsBucket } from '../../lib/store/types';

const T0 = Date.parse('2030-03-01T10:00:00.000Z');
const min = (n: number): Date => new Date(T0 + n * 60_000);

describe('run stats presenter', () => {
  test('fills every bucket of the window, empty ones as zeros, and keeps each bucket in its slot', () => {
    const window = { from: min(0), to: min(10), bucketSeconds: 60 };
    const buckets: RunStatsBucket[] = [
      { bucketStart: min(2), counts: { succeeded: 3, failed: 1 }, durationP50Ms: 120, durationP95Ms: 900 },
      { bucketStart: min(7), counts: { 'timed-out': 2 }, durationP50Ms: null, durationP95Ms: null },
    ];
    const s = fillRunStats(buckets, window);
    assert.equal(s.points.length, 10);
    assert.deepEqual(
      s.points.map((p) => p.start.getTime()),
      Array.from({ length: 10 }, (_, i) => min(i).getTime()),
    );
    assert.deepEqual(
      s.points.map((p) => p.total),
      [0, 0, 4, 0, 0, 0, 0, 2, 0, 0],
    );
    assert.equal(s.points[2]!.counts.succeeded, 3);
    assert.equal(s.points[2]!.counts.failed, 1);
    assert.equal(s.points[2]!.counts.running, 0, 'absent statuses are zero, not undefined');
    assert.equal(s.points[2]!.p95Ms, 900);
    assert.equal(s.points[3]!.p50Ms, null, 'a gap has no duration (the line breaks there)');
    assert.equal(s.points[7]!.counts['timed-out'], 2);
    assert.equal(s.total, 6);
    assert.equal(s.maxTotal, 4);
    assert.equal(s.maxDurationMs, 900);
    assert.deepEqual(s.statuses, ['succeeded', 'failed', 'timed-out'], 'legend in RUN_STATUSES order, only statuses present');
  });

  test('an empty window still has every bucket; buckets outside the window or off the grid are ignored', () => {
    const window = { from: min(0), to: min(5), bucketSeconds: 60 };
    const empty = fillRunStats([], window);
    assert.equal(empty.points.length, 5);
    assert.equal(empty.total, 0);
    assert.equal(empty.maxTotal, 1, 'a zero scale would divide by zero');
    assert.equal(empty.maxDurationMs, null);
    assert.match(summarizeRuns(empty, '1 hour'), /No runs/);

    const stray = fillRunStats(
      [
        { bucketStart: min(-1), counts: { succeeded: 9 }, durationP50Ms: 1, durationP95Ms: 1 },
        { bucketStart: min(5), counts: { succeeded: 9 }, durationP50Ms: 1, durationP95Ms: 1 },
        { bucketStart: new Date(min(1).getTime() + 1_000), counts: { succeeded: 9 }, durationP50Ms: 1, durationP95Ms: 1 },
        { bucketStart: min(4), counts: { failed: 1 }, durationP50Ms: 5, durationP95Ms: 8 },
      ],
      window,
    );
    assert.deepEqual(
      stray.points.map((p) => p.total),
      [0, 0, 0, 0, 1],
    );
  });

  test('a window that is not a whole number of buckets ends with a short last bucket', () => {
    const s = fillRunStats([], { from: min(0), to: new Date(min(2).getTime() + 30_000), bucketSeconds: 60 });
    assert.equal(s.points.length, 3);
    assert.equal(s.points[2]!.end.getTime(), min(2).getTime() + 30_000);
  });

  test('ranges: the window ends at the end of the bucket holding now and spans the range', () => {
    const now = new Date(Date.parse('2030-03-01T10:17:42.500Z'));
    for (const key of Object.keys(STATS_RANGES) as Array<keyof typeof STATS_RANGES>) {
      const w = statsWindow(key, now);
      const bucketMs = w.bucketSeconds * 1000;
      assert.ok(w.to.getTime() > now.getTime() && w.to.getTime() - now.getTime() <= bucketMs, key);
      assert.equal(w.to.getTime() % bucketMs, 0, `${key}: aligned`);
      assert.equal(w.to.getTime() - w.from.getTime(), STATS_RANGES[key].windowMs);
      const bars = fillRunStats([], w).points.length;
      assert.ok(bars >= 20 && bars <= 100, `${key}: ${bars} bars`);
    }
    assert.equal(parseStatsRange('7d'), '7d');
    assert.equal(parseStatsRange('30d'), '24h', 'unknown ranges fall back to the default');
    assert.equal(parseStatsRange(undefined), '24h');
  });

  test('niceCeiling rounds up to 1, 2 or 5 times a power of ten', () => {
    assert.deepEqual([0, 1, 3, 7, 11, 180, 2001].map(niceCeiling), [1, 1, 5, 10, 20, 200, 5000]);
  });
});
