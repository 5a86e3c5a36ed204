/**
 * The database clock estimate (lib/scheduler/clock.ts): from timed round trips, the offset with the smallest error;
 * a start computed from it is never before the due time on the database's clock, also when the first round trips are
 * slow (connection set-up), which made runs start up to ~77 ms early right after an instance started.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DatabaseClock } from '../../lib/scheduler/clock';

describe('DatabaseClock', () => {
  test('before any sample: no offset, unknown error', () => {
    const clock = new DatabaseClock(100, 20, () => 1_000);
    assert.equal(clock.measured, false);
    assert.equal(clock.offsetMs, 0);
    assert.equal(clock.errorMs, Number.POSITIVE_INFINITY);
  });

  test('endOf: a run ends at the estimate, never before a start the database stamped later than the estimate', () => {
    const clock = new DatabaseClock(100, 20, () => 10_000);
    clock.record(10_000, 10_000 - 40, 10_000);
    assert.equal(clock.endOf(null).getTime(), 9_960);
    assert.equal(clock.endOf(new Date(9_000)).getTime(), 9_960);
    // A start stamped by the database 1 ms past this instance's estimate: the end is that start, not before it.
    assert.equal(clock.endOf(new Date(9_961)).getTime(), 9_961);
  });

  test('a slow first round trip does not widen the estimate once a quick one is in', () => {
    let local = 10_000;
    const clock = new DatabaseClock(100, 20, () => local);
    // Local clock 40 ms ahead of the database. First round trip 160 ms (set-up); the database answered early in it.
    clock.record(10_000, 10_000 - 40 + 5, 10_160);
    assert.ok(Math.abs(clock.offsetMs - 40) <= 80);
    assert.ok(clock.errorMs >= 80);
    local = 10_200;
    clock.record(10_200, 10_200 - 40 + 1, 10_202);
    assert.equal(clock.offsetMs, 40);
    assert.ok(clock.errorMs <= 2.1, `${clock.errorMs}`);
    assert.equal(clock.now().getTime(), 10_200 - 40);
  });

  test('an old good sample is trusted less as time passes (drift allowance), so a fresh one wins', () => {
    let local = 0;
    const clock = new DatabaseClock(1_000, 20, () => local);
    clock.record(0, 0, 2); // error 2 ms, offset 1
    local = 60_000; // a minute later that sample's error is 2 + 60 ms
    clock.record(60_000, 60_000 - 10 + 5, 60_010); // error 6 ms, offset 10
    assert.equal(clock.offsetMs, 10);
  });

  test('property: the local time it calls "passed" is never before the database reached the time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5_000, max: 5_000 }), // true offset: local - database
        fc.array(fc.record({ rtt: fc.integer({ min: 0, max: 400 }), at: fc.double({ min: 0, max: 1, noNaN: true }) }), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.integer({ min: 0, max: 100_000 }),
        (offset, trips, target) => {
          let local = 1_000_000;
          const clock = new DatabaseClock(100, 20, () => local);
          for (const trip of trips) {
            // The database reads its clock at some point inside the round trip.
            const readAt = local + Math.floor(trip.rtt * trip.at);
            clock.record(local, readAt - offset, local + trip.rtt);
            local += trip.rtt + 10;
          }
          const due = 1_000_000 - offset + target;
          const localStart = clock.localTimeWhenPassed(new Date(due));
          // The database clock at that local instant.
          assert.ok(localStart - offset >= due, `would start ${due - (localStart - offset)} ms early`);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
