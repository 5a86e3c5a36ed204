/**
 * Heartbeat.recordedAliveAt: the claim path asks "was any instance up when this occurrence fell due" of every late
 * occurrence; when this instance's own row already says yes, no query is needed. The local answer must be exactly
 * Store.anyInstanceAliveAt's test applied to the row the last beat wrote, never more generous.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DatabaseClock } from '../../lib/scheduler/clock';
import type { SchedulerConfig } from '../../lib/scheduler/config';
import { Heartbeat } from '../../lib/scheduler/heartbeat';
import type { Instance, Store } from '../../lib/store/types';

/** The PostgreSQL store's anyInstanceAliveAt condition, on one row. */
function aliveAt(row: Instance, at: Date): boolean {
  const t = at.getTime();
  return row.aliveSince.getTime() <= t && row.lastSeenAt.getTime() >= t && (row.stoppedAt === null || row.stoppedAt.getTime() >= t);
}

function setUp(leaseMs: number) {
  const rows: Instance[] = [];
  let failing = false;
  const store = {
    now: async () => new Date(),
    upsertInstance: async (row: Instance) => {
      if (failing) throw new Error('database away');
      rows.push({ ...row });
    },
  } as unknown as Store;
  const config = { leaseMs } as SchedulerConfig;
  const heartbeat = new Heartbeat({ store, clock: new DatabaseClock(), config, instanceId: 'self' });
  return { heartbeat, rows, fail: (on: boolean) => (failing = on) };
}

describe('Heartbeat.recordedAliveAt', () => {
  test('no beat yet: never alive', () => {
    const { heartbeat } = setUp(6_000);
    assert.equal(heartbeat.recordedAliveAt(new Date()), false);
  });

  test('agrees with the store predicate on the last row written, at every time around it', async () => {
    const { heartbeat, rows } = setUp(6_000);
    await heartbeat.beat();
    await delay(20);
    await heartbeat.beat();
    const row = rows.at(-1)!;
    const from = row.aliveSince.getTime() - 50;
    for (let t = from; t <= row.lastSeenAt.getTime() + 50; t += 1) {
      const at = new Date(t);
      assert.equal(heartbeat.recordedAliveAt(at), aliveAt(row, at), `at ${at.toISOString()}`);
    }
    // A time after the last beat: the row does not say so yet (the database would not either).
    assert.equal(heartbeat.recordedAliveAt(new Date(row.lastSeenAt.getTime() + 1)), false);
    assert.equal(heartbeat.recordedAliveAt(row.lastSeenAt), true);
  });

  test('after a gap longer than the lease: a new run of heartbeats, the time in the gap is not covered', async () => {
    const { heartbeat, rows } = setUp(30);
    await heartbeat.beat();
    const before = rows.at(-1)!;
    await delay(80);
    await heartbeat.beat();
    const after = rows.at(-1)!;
    assert.ok(after.aliveSince.getTime() > before.lastSeenAt.getTime());
    const inGap = new Date(before.lastSeenAt.getTime() + 10);
    assert.equal(aliveAt(after, inGap), false);
    assert.equal(heartbeat.recordedAliveAt(inGap), false);
  });

  test('a failed beat changes nothing; a stopping beat ends it', async () => {
    const { heartbeat, rows, fail } = setUp(6_000);
    await heartbeat.beat();
    const row = rows.at(-1)!;
    fail(true);
    await assert.rejects(heartbeat.beat());
    assert.equal(heartbeat.recordedAliveAt(row.lastSeenAt), true);
    assert.equal(heartbeat.recordedAliveAt(new Date(row.lastSeenAt.getTime() + 5)), false);
    fail(false);
    await heartbeat.beat(true);
    assert.equal(heartbeat.recordedAliveAt(row.lastSeenAt), false);
  });
});
