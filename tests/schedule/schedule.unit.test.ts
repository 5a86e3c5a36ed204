import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeSchedule, firstOccurrence, nextOccurrence, nextOccurrences } from '../../lib/schedule';
import type { Schedule } from '../../lib/validation/schedule';

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString());
const EPOCH = new Date(0);

describe('cron schedules', () => {
  test('six fields: the first is seconds', () => {
    const s: Schedule = { kind: 'cron', expression: '*/10 * * * * *', timezone: 'UTC' };
    assert.deepEqual(iso(nextOccurrences(s, new Date('2026-05-01T12:00:05Z'), EPOCH, 3)), [
      '2026-05-01T12:00:10.000Z',
      '2026-05-01T12:00:20.000Z',
      '2026-05-01T12:00:30.000Z',
    ]);
  });

  test('strictly after: an occurrence equal to `after` is not returned', () => {
    const s: Schedule = { kind: 'cron', expression: '0 * * * *', timezone: 'UTC' };
    assert.equal(nextOccurrence(s, new Date('2026-05-01T12:00:00Z'), EPOCH)?.toISOString(), '2026-05-01T13:00:00.000Z');
  });

  test('a time zone shifts the wall clock time, with its own DST offset', () => {
    const s: Schedule = { kind: 'cron', expression: '0 9 * * *', timezone: 'Europe/Berlin' };
    // Winter: CET = UTC+1; summer: CEST = UTC+2.
    assert.equal(nextOccurrence(s, new Date('2026-01-15T00:00:00Z'), EPOCH)?.toISOString(), '2026-01-15T08:00:00.000Z');
    assert.equal(nextOccurrence(s, new Date('2026-07-15T00:00:00Z'), EPOCH)?.toISOString(), '2026-07-15T07:00:00.000Z');
    const ny: Schedule = { kind: 'cron', expression: '0 9 * * *', timezone: 'America/New_York' };
    assert.equal(nextOccurrence(ny, new Date('2026-01-15T00:00:00Z'), EPOCH)?.toISOString(), '2026-01-15T14:00:00.000Z');
  });

  test('DST spring forward: a wall time that does not exist runs once, right after the gap', () => {
    // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    const s: Schedule = { kind: 'cron', expression: '30 2 * * *', timezone: 'Europe/Berlin' };
    const got = nextOccurrences(s, new Date('2026-03-28T12:00:00Z'), EPOCH, 2);
    assert.equal(got[0]?.toISOString(), '2026-03-29T01:00:00.000Z'); // 03:00 CEST
    assert.equal(got[1]?.toISOString(), '2026-03-30T00:30:00.000Z'); // 02:30 CEST
  });

  test('DST fall back: a wall time that happens twice runs once', () => {
    // 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
    const s: Schedule = { kind: 'cron', expression: '30 2 * * *', timezone: 'Europe/Berlin' };
    const got = nextOccurrences(s, new Date('2026-10-24T12:00:00Z'), EPOCH, 3);
    const onThe25th = got.filter((d) => d.toISOString().startsWith('2026-10-25'));
    assert.equal(onThe25th.length, 1);
    assert.equal(got[1]?.toISOString(), '2026-10-26T01:30:00.000Z'); // 02:30 CET
  });

  test('hourly across both DST changes: one occurrence per real hour, no gap, no repeat', () => {
    const s: Schedule = { kind: 'cron', expression: '0 * * * *', timezone: 'Europe/Berlin' };
    for (const after of ['2026-03-28T22:30:00Z', '2026-10-24T22:30:00Z']) {
      const got = nextOccurrences(s, new Date(after), EPOCH, 6);
      for (let i = 1; i < got.length; i++) assert.equal(got[i]!.getTime() - got[i - 1]!.getTime(), 3_600_000, after);
    }
  });
});

describe('interval schedules', () => {
  const anchor = new Date('2026-05-01T12:00:00.000Z');
  const every10: Schedule = { kind: 'interval', seconds: 10 };

  test('occurrences are anchor + k * period, whatever `after` is', () => {
    assert.equal(nextOccurrence(every10, new Date('2026-05-01T12:00:25.300Z'), anchor)?.toISOString(), '2026-05-01T12:00:30.000Z');
    // Strictly after: sitting on an occurrence gives the next one.
    assert.equal(nextOccurrence(every10, new Date('2026-05-01T12:00:30.000Z'), anchor)?.toISOString(), '2026-05-01T12:00:40.000Z');
    // Before the anchor, the anchor itself comes first.
    assert.equal(nextOccurrence(every10, new Date('2026-05-01T11:00:00Z'), anchor)?.toISOString(), anchor.toISOString());
  });

  test('no drift: chaining from late times stays on the grid', () => {
    let cursor = anchor;
    for (let i = 1; i <= 50; i++) {
      const next: Date = nextOccurrence(every10, new Date(cursor.getTime() + 137), anchor)!;
      assert.equal((next.getTime() - anchor.getTime()) % 10_000, 0);
      cursor = next;
    }
    assert.equal(cursor.toISOString(), '2026-05-01T12:08:20.000Z');
  });

  test('the first occurrence is one period after the anchor', () => {
    assert.equal(firstOccurrence(every10, anchor, anchor)?.toISOString(), '2026-05-01T12:00:10.000Z');
  });
});

describe('once schedules', () => {
  const s: Schedule = { kind: 'once', at: '2030-01-01T09:00:00+01:00' };

  test('runs at its time, then never again', () => {
    assert.equal(nextOccurrence(s, new Date('2029-12-31T00:00:00Z'), EPOCH)?.toISOString(), '2030-01-01T08:00:00.000Z');
    assert.equal(nextOccurrence(s, new Date('2030-01-01T08:00:00Z'), EPOCH), null);
    assert.deepEqual(iso(nextOccurrences(s, new Date('2029-01-01T00:00:00Z'), EPOCH, 5)), ['2030-01-01T08:00:00.000Z']);
  });

  test('a past one-off still gets its first occurrence (the missed policy decides)', () => {
    assert.equal(firstOccurrence(s, new Date('2031-01-01T00:00:00Z'), EPOCH)?.toISOString(), '2030-01-01T08:00:00.000Z');
  });
});

describe('describeSchedule', () => {
  test('says the schedule in words', () => {
    assert.equal(describeSchedule({ kind: 'interval', seconds: 300 }), 'Every 5 minutes');
    assert.equal(describeSchedule({ kind: 'interval', seconds: 1 }), 'Every second');
    assert.equal(describeSchedule({ kind: 'interval', seconds: 90 }), 'Every 90 seconds');
    assert.match(describeSchedule({ kind: 'cron', expression: '0 9 * * 1-5', timezone: 'Europe/Berlin' }), /09:00.*\(Europe\/Berlin\)$/);
    assert.equal(describeSchedule({ kind: 'once', at: '2030-01-01T08:00:00Z' }), 'Once at 2030-01-01T08:00:00Z');
  });
});
