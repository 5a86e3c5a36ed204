/**
 * The claim plan (lib/scheduler/plan.ts) is pure: what a claim records and where the job's pointer goes, per missed
 * policy. Its promise: every occurrence the pointer moves past is covered by exactly one record (a claim to run, or a
 * 'missed' record standing for a range), and the missed policy applies only when nobody was up when it fell due.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_COUNTED, planClaim, type ClaimPlanInput } from '../../lib/scheduler/plan';
import { nextOccurrence } from '../../lib/schedule';
import type { Job, NewRun } from '../../lib/store/types';
import type { Schedule } from '../../lib/validation/schedule';

const ANCHOR = new Date('2026-12-06T00:00:00.000Z');
const at = (s: number): Date => new Date(ANCHOR.getTime() + s * 1000);

function input(overrides: Partial<ClaimPlanInput> & { schedule?: Schedule; policy?: Job['missedPolicy'] } = {}): ClaimPlanInput {
  const { schedule = { kind: 'interval', seconds: 10 }, policy = 'run-once', ...rest } = overrides;
  return {
    job: { id: 'job-1', name: 'j', schedule, anchorAt: ANCHOR, missedPolicy: policy },
    scheduledFor: at(10),
    now: at(10),
    graceMs: 5_000,
    runAllLimit: 3,
    instanceId: 'me',
    leaseExpiresAt: at(16),
    someoneAlive: false,
    replay: false,
    ...rest,
  };
}

/** Every occurrence in [from, until), expanded. */
function occurrences(schedule: Schedule, from: Date, until: Date | null): number[] {
  const out: number[] = [];
  for (
    let t: Date | null = from;
    t && (until === null || t.getTime() < until.getTime()) && out.length < 100_000;
    t = nextOccurrence(schedule, t, ANCHOR)
  )
    out.push(t.getTime());
  return out;
}

/** The occurrences each record stands for (a range from scheduledFor through rangeEnd, or its own). */
function covered(schedule: Schedule, records: NewRun[]): number[] {
  return records.flatMap((r) =>
    r.rangeEnd ? occurrences(schedule, r.scheduledFor, new Date(r.rangeEnd.getTime() + 1)) : [r.scheduledFor.getTime()],
  );
}

describe('planClaim', () => {
  test('on time: a claim to start at the due time, the pointer on the next occurrence', () => {
    const plan = planClaim(input({ now: at(9.85) }));
    assert.deepEqual(
      plan.records.map((r) => [r.status, r.trigger, r.instanceId, r.startedAt, r.leaseExpiresAt?.toISOString()]),
      [['claimed', 'schedule', 'me', null, at(16).toISOString()]],
    );
    assert.equal(plan.next?.toISOString(), at(20).toISOString());
    assert.equal(plan.starts, true);
    assert.equal(plan.chain, false);
  });

  test('late while an instance was up (a fault, not an outage): it runs, each later one too, in turn', () => {
    for (const policy of ['skip', 'run-once', 'run-all'] as const) {
      const plan = planClaim(input({ policy, now: at(47), someoneAlive: true }));
      assert.deepEqual(
        plan.records.map((r) => [r.status, r.trigger]),
        [['claimed', 'catch-up']],
        policy,
      );
      assert.equal(plan.next?.toISOString(), at(20).toISOString(), `${policy}: nothing folded`);
      assert.equal(plan.chain, true, `${policy}: the next one is due already: its ticket after this run`);
    }
  });

  test('skip, every instance down: one missed record names the range and the count, nothing runs', () => {
    const plan = planClaim(input({ policy: 'skip', now: at(47) }));
    assert.equal(plan.records.length, 1);
    const [record] = plan.records;
    assert.equal(record!.status, 'missed');
    assert.equal(record!.startedAt, null);
    assert.equal(record!.finishedAt?.toISOString(), at(47).toISOString());
    assert.equal(record!.rangeEnd?.toISOString(), at(40).toISOString());
    assert.equal(record!.rangeCount, 4);
    assert.match(record!.error ?? '', /no instance was running .*this record stands for 4 occurrence\(s\) through .*missed policy skip/);
    assert.equal(plan.next?.toISOString(), at(50).toISOString());
    assert.equal(plan.starts, false);
  });

  test('run-once, every instance down: the first runs as a catch-up, the rest is one missed range record', () => {
    const plan = planClaim(input({ now: at(47) }));
    assert.deepEqual(
      plan.records.map((r) => [r.status, r.trigger, r.scheduledFor.toISOString(), r.rangeEnd?.toISOString(), r.rangeCount]),
      [
        ['claimed', 'catch-up', at(10).toISOString(), undefined, undefined],
        ['missed', 'schedule', at(20).toISOString(), at(40).toISOString(), 3],
      ],
    );
    assert.equal(plan.next?.toISOString(), at(50).toISOString());
    // Only one occurrence missed after the first: a plain missed record, no range.
    const one = planClaim(input({ now: at(26) }));
    assert.equal(one.records[1]!.rangeEnd, null);
    assert.equal(one.records[1]!.rangeCount, null);
  });

  test('run-all, every instance down: the last N are replayed one after the other, the older ones are one missed record', () => {
    const within = planClaim(input({ policy: 'run-all', now: at(40) }));
    assert.deepEqual(
      within.records.map((r) => [r.status, r.trigger]),
      [['claimed', 'catch-up']],
    );
    assert.equal(within.replay, true);
    assert.equal(within.chain, true);
    // 10..60 are late (until = now - grace = 65): 6 occurrences, limit 3: 10, 20, 30 dropped, 40, 50, 60 replayed.
    const beyond = planClaim(input({ policy: 'run-all', now: at(70) }));
    assert.equal(beyond.records.length, 1);
    assert.equal(beyond.records[0]!.status, 'missed');
    assert.equal(beyond.records[0]!.rangeEnd?.toISOString(), at(30).toISOString());
    assert.equal(beyond.records[0]!.rangeCount, 3);
    assert.match(beyond.records[0]!.error ?? '', /this and 2 later occurrence\(s\) through .* were not replayed \(run-all limit 3\)/);
    assert.equal(beyond.next?.toISOString(), at(40).toISOString());
    assert.equal(beyond.replay, true);
    // A replay ticket is never cut again.
    const step = planClaim(input({ policy: 'run-all', now: at(70), replay: true, scheduledFor: at(40) }));
    assert.deepEqual(
      step.records.map((r) => r.status),
      ['claimed'],
    );
    assert.equal(step.next?.toISOString(), at(50).toISOString());
  });

  test('cron schedules are counted by walking; a range too long to walk is one uncounted record up to now', () => {
    const everySecond: Schedule = { kind: 'cron', expression: '* * * * * *', timezone: 'UTC' };
    const short = planClaim(input({ policy: 'skip', schedule: everySecond, scheduledFor: at(10), now: at(100) }));
    assert.equal(short.records[0]!.rangeCount, 91);
    assert.equal(short.records[0]!.rangeEnd?.toISOString(), at(100).toISOString());
    assert.equal(short.next?.toISOString(), at(101).toISOString());
    const long = planClaim(input({ policy: 'skip', schedule: everySecond, scheduledFor: at(10), now: at(10 + MAX_COUNTED + 500.5) }));
    assert.equal(long.records[0]!.rangeCount, null);
    assert.equal(long.records[0]!.rangeEnd?.toISOString(), at(10 + MAX_COUNTED + 500.5).toISOString());
    assert.equal(long.next?.toISOString(), at(10 + MAX_COUNTED + 501).toISOString());
  });

  test('property: the records cover every occurrence the pointer moves past, each exactly once', () => {
    fc.assert(
      fc.property(
        fc.record({
          seconds: fc.integer({ min: 1, max: 120 }),
          first: fc.integer({ min: 1, max: 50 }),
          lateMs: fc.integer({ min: -200, max: 400_000 }),
          policy: fc.constantFrom('skip', 'run-once', 'run-all' as const),
          someoneAlive: fc.boolean(),
          replay: fc.boolean(),
          limit: fc.integer({ min: 1, max: 20 }),
          graceMs: fc.integer({ min: 100, max: 10_000 }),
        }),
        ({ seconds, first, lateMs, policy, someoneAlive, replay, limit, graceMs }) => {
          const schedule: Schedule = { kind: 'interval', seconds };
          const scheduledFor = new Date(ANCHOR.getTime() + first * seconds * 1000);
          const plan = planClaim(
            input({
              schedule,
              policy,
              someoneAlive,
              replay,
              runAllLimit: limit,
              graceMs,
              scheduledFor,
              now: new Date(scheduledFor.getTime() + lateMs),
            }),
          );
          assert.equal(plan.records[0]!.scheduledFor.getTime(), scheduledFor.getTime(), 'the first record is the occurrence itself');
          assert.ok(plan.next === null || plan.next.getTime() > scheduledFor.getTime(), 'the pointer moves forward');
          const owed = occurrences(schedule, scheduledFor, plan.next);
          const got = covered(schedule, plan.records).sort((a, b) => a - b);
          assert.deepEqual(got, owed);
          for (const r of plan.records) if (r.rangeEnd) assert.equal(r.rangeCount, covered(schedule, [r]).length);
          assert.equal(plan.starts, plan.records[0]!.status === 'claimed');
        },
      ),
      { numRuns: 500 },
    );
  });
});
