/**
 * Store conformance suite: every Store implementation (PostgreSQL, MongoDB) must pass it unchanged.
 * Nothing here may depend on the database behind the store.
 *
 * `open()` must return a store on a FRESH, EMPTY database that has NOT been migrated yet (the suite calls
 * migrate() itself, and races it). `another()`, when given, opens one more store on the same database (a second
 * process, as far as the database can tell); `cleanup()` closes everything and drops the database.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  DEFAULT_RETRY,
  NameTakenError,
  UsernameTakenError,
  type AuditEntry,
  type AuditListQuery,
  type Instance,
  type Job,
  type NewJob,
  type NewRun,
  type Run,
  type RunListQuery,
  type RunStatus,
  type Store,
} from '../../lib/store/types';

export interface ConformanceTarget {
  store: Store;
  cleanup(): Promise<void>;
  another?: () => Promise<Store>;
}

const T = { timeout: 60_000 };

const BASE = Date.parse('2030-01-01T00:00:00.000Z');
const at = (seconds: number, ms = 0): Date => new Date(BASE + seconds * 1000 + ms);

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    name: `job-${randomUUID().slice(0, 8)}`,
    description: 'a test job',
    type: 'log',
    payload: { message: 'hello', nested: { list: [1, 'two', null, true], n: 1.5 } },
    schedule: { kind: 'interval', seconds: 60 },
    paused: false,
    timeoutSeconds: 300,
    overlapPolicy: 'skip',
    missedPolicy: 'run-once',
    tags: ['alpha', 'beta'],
    nextRunAt: at(60, 123),
    anchorAt: at(0, 123),
    ...overrides,
  };
}

function newRun(job: Pick<Job, 'id' | 'name'>, overrides: Partial<NewRun> = {}): NewRun {
  return {
    jobId: job.id,
    jobName: job.name,
    scheduledFor: at(60),
    startedAt: null,
    finishedAt: null,
    status: 'running',
    trigger: 'schedule',
    instanceId: 'instance-a',
    attempt: 1,
    error: null,
    output: null,
    leaseExpiresAt: null,
    rangeEnd: null,
    rangeCount: null,
    ...overrides,
  };
}

function time(d: Date | null): number | null {
  return d === null ? null : d.getTime();
}

/** Newest first by scheduledFor, then id (descending), as the Store contract documents. */
function runOrder(a: Run, b: Run): number {
  const d = b.scheduledFor.getTime() - a.scheduledFor.getTime();
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Code point order of names, then id. */
function jobOrder(a: Pick<Job, 'name' | 'id'>, b: Pick<Job, 'name' | 'id'>): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

async function allRunPages(store: Store, query: Omit<RunListQuery, 'cursor'>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listRuns({ ...query, cursor });
    pages++;
    assert.ok(page.items.length <= query.limit, 'a page never holds more than limit items');
    ids.push(...page.items.map((r) => r.id));
    if (page.nextCursor === null) break;
    assert.equal(page.items.length, query.limit, 'only the last page may be short');
    cursor = page.nextCursor;
    assert.ok(pages < 1000, 'pagination terminates');
  }
  return { ids, pages };
}

export function storeConformance(label: string, open: () => Promise<ConformanceTarget>): void {
  describe(`Store conformance: ${label}`, () => {
    describe('migrate', () => {
      let target: ConformanceTarget;
      beforeEach(async () => {
        target = await open();
      });
      afterEach(async () => {
        await target.cleanup();
      });

      it('brings an empty database up to date when several connections migrate at once, and is idempotent', T, async () => {
        const stores = [target.store];
        if (target.another) for (let i = 0; i < 3; i++) stores.push(await target.another());
        // Several calls per store as well: the same process may race itself (instrumentation and a route).
        await Promise.all(stores.flatMap((s) => [s.migrate(), s.migrate()]));
        const job = await stores[1 % stores.length]!.createJob(newJob({ name: 'after-concurrent-migrate' }));
        await target.store.migrate();
        const again = await target.store.getJob(job.id);
        assert.equal(again?.name, 'after-concurrent-migrate', 'a later migrate keeps existing data');
        assert.equal(await target.store.insertRun(newRun(job)) !== null, true);
        assert.equal(await target.store.insertRun(newRun(job)), null, 'uniqueness holds after concurrent migrations');
      });
    });

    describe('operations', () => {
      let target: ConformanceTarget;
      let store: Store;
      beforeEach(async () => {
        target = await open();
        store = target.store;
        await store.migrate();
      });
      afterEach(async () => {
        await target.cleanup();
      });

      it('identifies itself without secrets', T, () => {
        assert.ok(store.kind === 'postgres' || store.kind === 'mongodb');
        assert.ok(store.description.length > 0);
        assert.doesNotMatch(store.description, /:\/\/[^/\s]*:[^@/\s]+@/, 'no password in the description');
      });

      it('now() is the database clock, close to the local clock; ping() resolves', T, async () => {
        const before = Date.now();
        const now = await store.now();
        const after = Date.now();
        assert.ok(now instanceof Date);
        // Same machine in tests: allow scheduling noise, not a different clock.
        assert.ok(now.getTime() >= before - 2000 && now.getTime() <= after + 2000, `now() ${now.toISOString()} vs local ${new Date(before).toISOString()}`);
        const later = await store.now();
        assert.ok(later.getTime() >= now.getTime(), 'clock moves forward');
        await store.ping();
      });

      it('compactTickets resolves, also when several instances call it at once', T, async () => {
        await store.compactTickets();
        await Promise.all([store.compactTickets(), store.compactTickets(), store.compactTickets()]);
      });

      it('createJob stores every field and getJob reads it back', T, async () => {
        const spec = newJob({ schedule: { kind: 'cron', expression: '*/5 * * * *', timezone: 'Europe/Berlin' }, tags: [] });
        const created = await store.createJob(spec);
        assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'ids are uuids');
        assert.equal(typeof created.version, 'number');
        assert.ok(created.createdAt instanceof Date && created.updatedAt instanceof Date);
        const read = await store.getJob(created.id);
        assert.ok(read);
        assert.deepEqual(read, created);
        for (const job of [created, read]) {
          assert.equal(job.name, spec.name);
          assert.equal(job.description, spec.description);
          assert.equal(job.type, spec.type);
          assert.deepEqual(job.payload, spec.payload);
          assert.deepEqual(job.schedule, spec.schedule);
          assert.equal(job.paused, false);
          assert.equal(job.timeoutSeconds, 300);
          assert.equal(job.overlapPolicy, 'skip');
          assert.equal(job.missedPolicy, 'run-once');
          assert.deepEqual(job.tags, []);
          assert.equal(time(job.nextRunAt), time(spec.nextRunAt), 'millisecond precision');
          assert.equal(time(job.anchorAt), time(spec.anchorAt));
        }
        const paused = await store.createJob(newJob({ paused: true, nextRunAt: null, schedule: { kind: 'once', at: '2031-05-06T07:08:09.010Z' } }));
        assert.equal(paused.nextRunAt, null);
        assert.equal(paused.paused, true);
        assert.deepEqual((await store.getJob(paused.id))?.schedule, { kind: 'once', at: '2031-05-06T07:08:09.010Z' });
      });

      it('getJob / updateJob / deleteJob of an unknown id: null / null / false', T, async () => {
        const id = randomUUID();
        assert.equal(await store.getJob(id), null);
        assert.equal(await store.updateJob(id, { description: 'x' }), null);
        assert.equal(await store.deleteJob(id), false);
        assert.equal(await store.getJob('not-an-id'), null, 'a malformed id is just unknown');
      });

      it('createJob with a taken name throws NameTakenError; concurrent creates of one name: exactly one wins', T, async () => {
        await store.createJob(newJob({ name: 'nightly backup' }));
        await assert.rejects(store.createJob(newJob({ name: 'nightly backup' })), (err: unknown) => {
          assert.ok(err instanceof NameTakenError);
          assert.equal(err.jobName, 'nightly backup');
          return true;
        });
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.createJob(newJob({ name: 'race' }))));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError);
        const page = await store.listJobs({ limit: 50, search: 'race' });
        assert.equal(page.items.length, 1);
      });

      it('updateJob applies the patch, bumps version by one, keeps the rest; rename onto a taken name throws', T, async () => {
        const job = await store.createJob(newJob({ name: 'original' }));
        await store.createJob(newJob({ name: 'other' }));
        const updated = await store.updateJob(job.id, {
          description: 'changed',
          payload: { message: 'bye' },
          schedule: { kind: 'interval', seconds: 5 },
          tags: ['gamma'],
          nextRunAt: null,
          paused: true,
          overlapPolicy: 'queue-one',
          missedPolicy: 'run-all',
          timeoutSeconds: 9,
          anchorAt: at(1000),
        });
        assert.ok(updated);
        assert.equal(updated.version, job.version + 1);
        assert.equal(updated.name, 'original', 'fields outside the patch are kept');
        assert.equal(updated.type, job.type);
        assert.equal(updated.description, 'changed');
        assert.deepEqual(updated.payload, { message: 'bye' });
        assert.deepEqual(updated.schedule, { kind: 'interval', seconds: 5 });
        assert.deepEqual(updated.tags, ['gamma']);
        assert.equal(updated.nextRunAt, null);
        assert.equal(updated.paused, true);
        assert.equal(updated.overlapPolicy, 'queue-one');
        assert.equal(updated.missedPolicy, 'run-all');
        assert.equal(updated.timeoutSeconds, 9);
        assert.equal(time(updated.anchorAt), time(at(1000)));
        assert.equal(time(updated.createdAt), time(job.createdAt));
        assert.ok(updated.updatedAt.getTime() >= job.updatedAt.getTime());
        assert.deepEqual(await store.getJob(job.id), updated);

        const renamed = await store.updateJob(job.id, { name: 'renamed' });
        assert.equal(renamed?.name, 'renamed');
        assert.equal(renamed?.version, job.version + 2);
        await assert.rejects(store.updateJob(job.id, { name: 'other' }), NameTakenError);
        assert.equal((await store.getJob(job.id))?.name, 'renamed', 'a failed rename changes nothing');
        const same = await store.updateJob(job.id, { name: 'renamed' });
        assert.equal(same?.name, 'renamed', 'keeping its own name is not a conflict');
      });

      it('deleteJob removes the job but keeps its runs (with the job name)', T, async () => {
        const job = await store.createJob(newJob({ name: 'short-lived' }));
        const run = await store.insertRun(newRun(job, { status: 'succeeded' }));
        assert.ok(run);
        assert.equal(await store.deleteJob(job.id), true);
        assert.equal(await store.getJob(job.id), null);
        assert.equal(await store.deleteJob(job.id), false);
        const kept = await store.getRun(run.id);
        assert.equal(kept?.jobName, 'short-lived');
        assert.equal(kept?.jobId, job.id);
        const page = await store.listRuns({ limit: 10, jobId: job.id });
        assert.deepEqual(page.items.map((r) => r.id), [run.id]);
        const reused = await store.createJob(newJob({ name: 'short-lived' }));
        assert.notEqual(reused.id, job.id, 'the name is free again');
      });

      it('advanceJob is a compare-and-set on (version, nextRunAt) and does not bump version', T, async () => {
        const job = await store.createJob(newJob({ nextRunAt: at(60) }));
        const expected = { version: job.version, nextRunAt: at(60) };
        assert.equal(await store.advanceJob(job.id, expected, at(120)), true);
        let now = await store.getJob(job.id);
        assert.equal(time(now!.nextRunAt), time(at(120)));
        assert.equal(now!.version, job.version, 'version unchanged');
        assert.equal(await store.advanceJob(job.id, expected, at(180)), false, 'stale nextRunAt');
        assert.equal(await store.advanceJob(job.id, { version: job.version, nextRunAt: at(120, 1) }, at(180)), false, 'differs by 1 ms');
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)));

        const bumped = await store.updateJob(job.id, { description: 'edit' });
        assert.equal(await store.advanceJob(job.id, { version: job.version, nextRunAt: at(120) }, at(180)), false, 'stale version');
        assert.equal(await store.advanceJob(job.id, { version: bumped!.version, nextRunAt: at(120) }, null), true, 'to null (one-off done)');
        now = await store.getJob(job.id);
        assert.equal(now!.nextRunAt, null);
        assert.equal(await store.advanceJob(randomUUID(), { version: 1, nextRunAt: at(0) }, at(1)), false, 'unknown job');

        const racer = await store.createJob(newJob({ nextRunAt: at(10) }));
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.advanceJob(racer.id, { version: racer.version, nextRunAt: at(10) }, at(20 + i))),
        );
        assert.equal(outcomes.filter(Boolean).length, 1, 'exactly one concurrent advance wins');
        const winner = outcomes.indexOf(true);
        assert.equal(time((await store.getJob(racer.id))!.nextRunAt), time(at(20 + winner)));
      });

      it('listDueJobs returns active jobs due before the cut-off, up to limit', T, async () => {
        const due1 = await store.createJob(newJob({ nextRunAt: at(10) }));
        const due2 = await store.createJob(newJob({ nextRunAt: at(20) }));
        const due3 = await store.createJob(newJob({ nextRunAt: at(29, 999) }));
        await store.createJob(newJob({ nextRunAt: at(30) })); // exactly at the cut-off: not before it
        await store.createJob(newJob({ nextRunAt: at(40) }));
        await store.createJob(newJob({ nextRunAt: at(5), paused: true }));
        await store.createJob(newJob({ nextRunAt: null }));
        const due = await store.listDueJobs(at(30), 100);
        assert.deepEqual(due.map((j) => j.id).sort(), [due1.id, due2.id, due3.id].sort());
        for (const j of due) assert.ok(j.nextRunAt instanceof Date);
        const limited = await store.listDueJobs(at(30), 2);
        assert.equal(limited.length, 2);
        for (const j of limited) assert.ok([due1.id, due2.id, due3.id].includes(j.id));
        await store.updateJob(due1.id, { paused: true, nextRunAt: null });
        assert.deepEqual((await store.listDueJobs(at(30), 100)).map((j) => j.id).sort(), [due2.id, due3.id].sort());
      });

      it('insertRun stores every field; a second run for the same occurrence is refused with null', T, async () => {
        const job = await store.createJob(newJob());
        const other = await store.createJob(newJob());
        const spec = newRun(job, {
          scheduledFor: at(60, 7),
          startedAt: at(60, 9),
          leaseExpiresAt: at(90),
          attempt: 2,
          trigger: 'catch-up',
          error: 'e',
          output: 'o',
        });
        const run = await store.insertRun(spec);
        assert.ok(run);
        assert.equal(typeof run.id, 'string');
        const { id, ...rest } = run;
        void id;
        assert.deepEqual(rest, spec);
        assert.deepEqual(await store.getRun(run.id), run);
        assert.deepEqual(await store.getRunByOccurrence(job.id, at(60, 7)), run);
        assert.equal(await store.getRunByOccurrence(job.id, at(60, 8)), null, 'occurrences are exact to the millisecond');
        assert.equal(await store.getRunByOccurrence(other.id, at(60, 7)), null);

        assert.equal(await store.insertRun(newRun(job, { scheduledFor: at(60, 7), trigger: 'manual' })), null, 'occurrence taken');
        assert.equal((await store.getRun(run.id))?.trigger, 'catch-up', 'the refused insert changed nothing');
        assert.ok(await store.insertRun(newRun(other, { scheduledFor: at(60, 7) })), 'same time, other job: fine');
        assert.ok(await store.insertRun(newRun(job, { scheduledFor: at(60, 8) })), 'next millisecond: another occurrence');
        assert.equal(await store.getRun(randomUUID()), null);
      });

      it('claimOccurrence: records the occurrence and moves the pointer in one step; a second claimer, a stale version or a paused job get nothing', T, async () => {
        const job = await store.createJob(newJob({ nextRunAt: at(60) }));
        const own = newRun(job, { scheduledFor: at(60), status: 'claimed', leaseExpiresAt: at(70) });
        const claim = { jobId: job.id, expected: { version: job.version, nextRunAt: at(60) }, nextRunAt: at(120), runs: [own] };
        const result = await store.claimOccurrence(claim);
        assert.equal(result.outcome, 'claimed');
        const run = result.outcome === 'claimed' ? result.run : null;
        assert.ok(run);
        const { id, ...rest } = run;
        assert.ok(id);
        assert.deepEqual(rest, { ...own, rangeEnd: null, rangeCount: null }, 'the record as written');
        assert.deepEqual(await store.getRunByOccurrence(job.id, at(60)), run);
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)), 'the pointer moved');
        assert.equal((await store.getJob(job.id))!.version, job.version, 'a claim is not an edit');

        assert.deepEqual(await store.claimOccurrence({ ...claim, runs: [{ ...own, instanceId: 'instance-b' }] }), { outcome: 'stale' }, 'second claimer');
        assert.equal((await store.getRunByOccurrence(job.id, at(60)))!.instanceId, 'instance-a');
        const next = { jobId: job.id, expected: { version: job.version + 1, nextRunAt: at(120) }, nextRunAt: at(180), runs: [newRun(job, { scheduledFor: at(120), status: 'claimed' })] };
        assert.deepEqual(await store.claimOccurrence(next), { outcome: 'stale' }, 'stale version');
        assert.equal(await store.getRunByOccurrence(job.id, at(120)), null, 'nothing written');
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)));

        // An occurrence recorded already while the pointer still points at it (a claimer that died between two writes).
        await store.insertRun(newRun(job, { scheduledFor: at(120), status: 'claimed', instanceId: 'dead' }));
        assert.deepEqual(await store.claimOccurrence({ ...next, expected: { version: job.version, nextRunAt: at(120) } }), { outcome: 'taken' });
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(120)), 'taken: the pointer stays');
        assert.equal((await store.getRunByOccurrence(job.id, at(120)))!.instanceId, 'dead', 'and the record too');

        const paused = await store.createJob(newJob({ nextRunAt: at(60) }));
        await store.updateJob(paused.id, { paused: true });
        assert.deepEqual(
          await store.claimOccurrence({ jobId: paused.id, expected: { version: paused.version + 1, nextRunAt: at(60) }, nextRunAt: at(120), runs: [newRun(paused, { status: 'claimed' })] }),
          { outcome: 'stale' },
          'paused',
        );
        assert.equal(await store.getRunByOccurrence(paused.id, at(60)), null);
        assert.deepEqual(await store.claimOccurrence({ ...claim, jobId: randomUUID() }), { outcome: 'stale' }, 'no such job');
      });

      it('claimOccurrence writes a range record with the claim; concurrent claims of one occurrence: exactly one wins', T, async () => {
        const job = await store.createJob(newJob({ nextRunAt: at(60), missedPolicy: 'run-once' }));
        const own = newRun(job, { scheduledFor: at(60), status: 'claimed', trigger: 'catch-up' });
        const fold = newRun(job, { scheduledFor: at(120), status: 'missed', finishedAt: at(400), error: 'folded', rangeEnd: at(360), rangeCount: 5 });
        const result = await store.claimOccurrence({ jobId: job.id, expected: { version: job.version, nextRunAt: at(60) }, nextRunAt: at(420), runs: [own, fold] });
        assert.equal(result.outcome, 'claimed');
        const range = await store.getRunByOccurrence(job.id, at(120));
        assert.ok(range);
        assert.equal(range.status, 'missed');
        assert.equal(time(range.rangeEnd), time(at(360)));
        assert.equal(range.rangeCount, 5);
        assert.equal(time((await store.getJob(job.id))!.nextRunAt), time(at(420)));
        const listed = (await store.listRuns({ jobId: job.id, limit: 10 })).items;
        assert.deepEqual(listed.map((r) => [r.status, r.rangeCount]), [['missed', 5], ['claimed', null]], 'both records, ranges listed');

        const raced = await store.createJob(newJob({ nextRunAt: at(60) }));
        const claimers = [store, target.another ? await target.another() : store];
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            claimers[i % 2]!.claimOccurrence({
              jobId: raced.id,
              expected: { version: raced.version, nextRunAt: at(60) },
              nextRunAt: at(120),
              runs: [newRun(raced, { status: 'claimed', instanceId: `instance-${i}` })],
            }),
          ),
        );
        const winners = results.filter((r) => r.outcome === 'claimed');
        assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.outcome)));
        assert.equal((await store.listRuns({ jobId: raced.id, limit: 10 })).items.length, 1);
      });

      it('startRun: only the claimer, only in order, and not after a pause or delete; takeOverClaim only once the lease expired', T, async () => {
        // Occurrences in the past: PostgreSQL also judges "not due yet" on its own clock.
        const past = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
        const job = await store.createJob(newJob({ nextRunAt: past(60), schedule: { kind: 'interval', seconds: 60 }, anchorAt: past(0) }));
        const claims: Run[] = [];
        for (const [i, s] of [60, 120, 180].entries()) {
          const r = await store.claimOccurrence({
            jobId: job.id,
            expected: { version: job.version, nextRunAt: past(s) },
            nextRunAt: past(s + 60),
            runs: [newRun(job, { scheduledFor: past(s), status: 'claimed', instanceId: i === 0 ? 'slow' : 'instance-a', leaseExpiresAt: past(s + 10) })],
          });
          assert.equal(r.outcome, 'claimed');
          if (r.outcome === 'claimed') claims.push(r.run);
        }
        const start = { at: past(200), queued: false, leaseExpiresAt: past(230), trigger: 'schedule' as const };
        assert.deepEqual(await store.startRun(claims[1]!, 'instance-a', start), { outcome: 'waiting', reason: 'earlier' }, 'an earlier occurrence is still claimed');
        assert.deepEqual(await store.startRun(claims[0]!, 'instance-a', start), { outcome: 'lost' }, 'not the claimer');
        assert.equal(await store.takeOverClaim(claims[0]!.id, { instanceId: 'slow', leaseExpiredBefore: past(60) }, { instanceId: 'instance-a', leaseExpiresAt: past(300) }), null, 'lease not expired yet');
        assert.equal(await store.takeOverClaim(claims[0]!.id, { instanceId: 'other', leaseExpiredBefore: past(200) }, { instanceId: 'instance-a', leaseExpiresAt: past(300) }), null, 'another claimer');
        const taken = await store.takeOverClaim(claims[0]!.id, { instanceId: 'slow', leaseExpiredBefore: past(200) }, { instanceId: 'instance-a', leaseExpiresAt: past(300) });
        assert.ok(taken);
        assert.equal(taken.status, 'claimed');
        assert.equal(taken.instanceId, 'instance-a');
        assert.equal(time(taken.leaseExpiresAt), time(past(300)));
        assert.equal(await store.takeOverClaim(claims[0]!.id, { instanceId: 'slow', leaseExpiredBefore: past(400) }, { instanceId: 'instance-b', leaseExpiresAt: past(500) }), null, 'exactly one taker');
        assert.deepEqual(await store.startRun(claims[0]!, 'slow', start), { outcome: 'lost' }, 'the former claimer wakes up: not its own any more');

        const first = await store.startRun(claims[0]!, 'instance-a', { ...start, trigger: 'catch-up' });
        assert.equal(first.outcome, 'started');
        if (first.outcome === 'started') {
          assert.equal(first.run.status, 'running');
          assert.equal(first.run.trigger, 'catch-up');
          assert.equal(time(first.run.startedAt), time(past(200)));
          assert.equal(time(first.run.leaseExpiresAt), time(past(230)));
        }
        assert.deepEqual(await store.startRun(claims[0]!, 'instance-a', start), { outcome: 'lost' }, 'started once');
        const second = await store.startRun(claims[1]!, 'instance-a', { ...start, queued: true });
        assert.equal(second.outcome, 'started', 'in order now');
        if (second.outcome === 'started') assert.equal(second.run.startedAt, null, 'queued: waiting for its turn, not started');

        await store.updateJob(job.id, { paused: true });
        const closed = await store.getRun(claims[2]!.id);
        assert.equal(closed!.status, 'skipped', 'a pause closes the claims not started');
        assert.match(closed!.error ?? '', /paused/);
        assert.ok(closed!.finishedAt);
        assert.equal(closed!.leaseExpiresAt, null);
        assert.deepEqual(await store.startRun(claims[2]!, 'instance-a', start), { outcome: 'lost' });
        assert.equal((await store.getRun(claims[1]!.id))!.status, 'running', 'a started run is not touched');

        const gone = await store.createJob(newJob({ nextRunAt: past(60) }));
        const c = await store.claimOccurrence({ jobId: gone.id, expected: { version: gone.version, nextRunAt: past(60) }, nextRunAt: past(120), runs: [newRun(gone, { scheduledFor: past(60), status: 'claimed' })] });
        assert.equal(c.outcome, 'claimed');
        assert.equal(await store.deleteJob(gone.id), true);
        const left = await store.getRunByOccurrence(gone.id, past(60));
        assert.equal(left!.status, 'skipped', 'a delete closes them too (the run record stays)');
        assert.match(left!.error ?? '', /deleted/);
      });

      it('claims racing a pause: once it returned, no claim of the job is left to start', T, async () => {
        const past = (s: number): Date => new Date(Date.parse('2020-01-01T00:00:00.000Z') + s * 1000);
        const writers = [store, target.another ? await target.another() : store];
        let before = 0;
        let after = 0;
        for (let round = 0; round < 16; round++) {
          const jobs = await Promise.all(Array.from({ length: 6 }, () => store.createJob(newJob({ nextRunAt: past(60) }))));
          const claims = jobs.map((job, i) =>
            writers[i % 2]!.claimOccurrence({
              jobId: job.id,
              expected: { version: job.version, nextRunAt: past(60) },
              nextRunAt: past(120),
              runs: [newRun(job, { scheduledFor: past(60), status: 'claimed', instanceId: 'claimer' })],
            }),
          );
          await new Promise((resolve) => setTimeout(resolve, round % 4));
          const deleting = round % 3 === 2;
          await Promise.all(jobs.map((job) => (deleting ? writers[1]!.deleteJob(job.id) : writers[1]!.updateJob(job.id, { paused: true }))));
          for (const [i, job] of jobs.entries()) {
            const run = await store.getRunByOccurrence(job.id, past(60));
            assert.notEqual(run?.status, 'claimed', `round ${round}: a claim survived the ${deleting ? 'delete' : 'pause'}`);
            const result = await claims[i]!;
            if (result.outcome === 'claimed') {
              before++;
              assert.deepEqual(await store.startRun(result.run, 'claimer', { at: past(61), queued: false, leaseExpiresAt: past(90), trigger: 'schedule' }), { outcome: 'lost' });
            } else after++;
          }
        }
        assert.ok(before > 0 && after > 0, `some claims landed before the pause (${before}), some after (${after})`);
      });

      it('renewLeases and releaseRuns: only runs the instance holds, as that attempt; listExpiredRuns finds claims too', T, async () => {
        const job = await store.createJob(newJob());
        const claimed = (await store.insertRun(newRun(job, { scheduledFor: at(1), status: 'claimed', leaseExpiresAt: at(5) })))!;
        const running = (await store.insertRun(newRun(job, { scheduledFor: at(2), status: 'running', attempt: 2, leaseExpiresAt: at(5) })))!;
        const finished = (await store.insertRun(newRun(job, { scheduledFor: at(3), status: 'succeeded', leaseExpiresAt: null })))!;
        const others = (await store.insertRun(newRun(job, { scheduledFor: at(4), status: 'running', instanceId: 'instance-b', leaseExpiresAt: at(5) })))!;
        const held = [claimed, running, finished, others].map((r) => ({ id: r.id, attempt: r.attempt }));
        assert.deepEqual((await store.renewLeases('instance-a', held, at(50))).sort(), [claimed.id, running.id].sort());
        assert.deepEqual(await store.renewLeases('instance-a', [{ id: running.id, attempt: 1 }], at(60)), [], 'another attempt');
        assert.equal(time((await store.getRun(running.id))!.leaseExpiresAt), time(at(50)));
        assert.equal(time((await store.getRun(others.id))!.leaseExpiresAt), time(at(5)), "another instance's run untouched");
        assert.equal(time((await store.getRun(finished.id))!.leaseExpiresAt), null);
        assert.deepEqual(await store.renewLeases('instance-a', [], at(50)), []);

        assert.deepEqual((await store.listExpiredRuns(at(40), 10)).map((r) => r.id), [others.id]);
        assert.deepEqual((await store.listExpiredRuns(at(51), 10)).map((r) => r.id).sort(), [claimed.id, running.id, others.id].sort(), 'claimed and running');
        assert.equal(await store.releaseRuns('instance-a', held, at(20), 'instance-a shut down'), 2);
        const released = await store.getRun(running.id);
        assert.equal(time(released!.leaseExpiresAt), time(at(20)));
        assert.equal(released!.error, 'instance-a shut down');
        assert.equal(released!.status, 'running', 'still running: for a takeover');
        assert.equal((await store.getRun(claimed.id))!.status, 'claimed');
        assert.equal(await store.releaseRuns('instance-b', [{ id: claimed.id, attempt: 1 }], at(20)), 0, 'not held by instance-b');
        assert.equal(await store.pruneRuns(at(100), 10), 1, 'only the finished run is prunable');
        assert.equal(await store.getRun(finished.id), null);
      });

      it('anyInstanceAliveAt: an instance heartbeating without a gap since before the time, seen after it, not stopped before it', T, async () => {
        const base: Instance = { id: 'x', host: 'h', pid: 1, version: '1', startedAt: at(0), lastSeenAt: at(100), clockSkewMs: 0, stoppedAt: null, aliveSince: at(10) };
        assert.equal(await store.anyInstanceAliveAt(at(50)), false, 'no instances');
        await store.upsertInstance({ ...base, id: 'up' });
        assert.equal(await store.anyInstanceAliveAt(at(50)), true);
        assert.equal(await store.anyInstanceAliveAt(at(10)), true, 'from aliveSince (inclusive)');
        assert.equal(await store.anyInstanceAliveAt(at(100)), true, 'through lastSeenAt (inclusive)');
        assert.equal(await store.anyInstanceAliveAt(at(5)), false, 'before its current run of heartbeats (a freeze, a restart)');
        assert.equal(await store.anyInstanceAliveAt(at(101)), false, 'not seen since');
        await store.upsertInstance({ ...base, id: 'up', lastSeenAt: at(100), stoppedAt: at(40) });
        assert.equal(await store.anyInstanceAliveAt(at(50)), false, 'stopped before');
        assert.equal(await store.anyInstanceAliveAt(at(30)), true, 'stopped after');
      });

      it('concurrent inserts of one occurrence: exactly one run is created', T, async () => {
        const job = await store.createJob(newJob());
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.insertRun(newRun(job, { scheduledFor: at(300), instanceId: `instance-${i}` }))),
        );
        const created = results.filter((r): r is Run => r !== null);
        assert.equal(created.length, 1);
        const page = await store.listRuns({ limit: 50, jobId: job.id });
        assert.equal(page.items.length, 1);
        assert.equal(page.items[0]!.instanceId, created[0]!.instanceId);
      });

      it('updateRun applies the patch and returns the run; unknown id gives null', T, async () => {
        const job = await store.createJob(newJob());
        const run = await store.insertRun(newRun(job, { startedAt: at(60), leaseExpiresAt: at(90) }));
        assert.ok(run);
        const done = await store.updateRun(run.id, {
          status: 'failed',
          finishedAt: at(61, 500),
          error: 'boom',
          output: 'partial output',
          leaseExpiresAt: null,
          attempt: 3,
        });
        assert.ok(done);
        assert.equal(done.status, 'failed');
        assert.equal(time(done.finishedAt), time(at(61, 500)));
        assert.equal(done.error, 'boom');
        assert.equal(done.output, 'partial output');
        assert.equal(done.leaseExpiresAt, null);
        assert.equal(done.attempt, 3);
        assert.equal(time(done.startedAt), time(at(60)), 'fields outside the patch are kept');
        assert.equal(done.instanceId, 'instance-a');
        assert.deepEqual(await store.getRun(run.id), done);
        assert.equal(await store.updateRun(randomUUID(), { status: 'succeeded' }), null);
      });

      it('listRuns pages newest first (scheduledFor, then id), every run exactly once, with each filter', T, async () => {
        const jobA = await store.createJob(newJob({ name: 'A' }));
        const jobB = await store.createJob(newJob({ name: 'B' }));
        const statuses: RunStatus[] = ['succeeded', 'failed', 'running', 'skipped'];
        const specs: NewRun[] = [];
        for (let i = 0; i < 23; i++) {
          // Shared due times between the two jobs exercise the id tie-break.
          specs.push(newRun(jobA, { scheduledFor: at(10 * Math.floor(i / 2)), status: statuses[i % 4]!, instanceId: i % 3 === 0 ? 'i-1' : 'i-2' }));
          if (i % 2 === 0) specs.push(newRun(jobB, { scheduledFor: at(10 * Math.floor(i / 2)), status: statuses[(i + 1) % 4]!, instanceId: null }));
        }
        const runs: Run[] = [];
        for (const spec of specs) {
          const run = await store.insertRun(spec);
          if (run) runs.push(run);
        }
        assert.equal(runs.length, specs.length - 11, 'odd i of job A repeats the previous occurrence and is refused');

        const cases: Array<[string, Omit<RunListQuery, 'cursor' | 'limit'>, (r: Run) => boolean]> = [
          ['all', {}, () => true],
          ['jobId', { jobId: jobA.id }, (r) => r.jobId === jobA.id],
          ['status', { status: 'succeeded' }, (r) => r.status === 'succeeded'],
          ['instanceId', { instanceId: 'i-1' }, (r) => r.instanceId === 'i-1'],
          ['from (inclusive)', { from: at(30) }, (r) => r.scheduledFor.getTime() >= at(30).getTime()],
          ['to (exclusive)', { to: at(30) }, (r) => r.scheduledFor.getTime() < at(30).getTime()],
          [
            'combined',
            { jobId: jobB.id, from: at(10), to: at(90) },
            (r) => r.jobId === jobB.id && r.scheduledFor >= at(10) && r.scheduledFor < at(90),
          ],
          ['nothing matches', { status: 'abandoned' }, () => false],
        ];
        for (const [name, filter, predicate] of cases) {
          const expected = runs.filter(predicate).sort(runOrder).map((r) => r.id);
          for (const limit of [1, 4, 7, 200]) {
            const { ids, pages } = await allRunPages(store, { ...filter, limit });
            assert.deepEqual(ids, expected, `${name}, limit ${limit}`);
            // A full last page already says "no more" (no trailing empty page).
            assert.equal(pages, Math.max(1, Math.ceil(expected.length / limit)), `${name}: page count`);
          }
        }
        const first = await store.listRuns({ limit: 3 });
        assert.deepEqual(first.items, runs.slice().sort(runOrder).slice(0, 3), 'items carry every field');
        assert.equal((await store.listRuns({ limit: 10, jobId: randomUUID() })).items.length, 0);
      });

      it('listRuns keyset pages stay exact when newer runs arrive while paging', T, async () => {
        const job = await store.createJob(newJob());
        const runs: Run[] = [];
        for (let i = 0; i < 10; i++) runs.push((await store.insertRun(newRun(job, { scheduledFor: at(i) })))!);
        const page1 = await store.listRuns({ limit: 4, jobId: job.id });
        await store.insertRun(newRun(job, { scheduledFor: at(100) }));
        await store.insertRun(newRun(job, { scheduledFor: at(101) }));
        const rest: string[] = [];
        let cursor = page1.nextCursor;
        while (cursor) {
          const page = await store.listRuns({ limit: 4, jobId: job.id, cursor });
          rest.push(...page.items.map((r) => r.id));
          cursor = page.nextCursor;
        }
        const expected = runs.sort(runOrder).map((r) => r.id);
        assert.deepEqual([...page1.items.map((r) => r.id), ...rest], expected);
      });

      it('listRuns rejects a malformed cursor', T, async () => {
        await assert.rejects(store.listRuns({ limit: 5, cursor: 'garbage!' }));
        await assert.rejects(store.listJobs({ limit: 5, cursor: 'garbage!' }));
      });

      it('listTags: distinct over all jobs, code point order, limited', T, async () => {
        assert.deepEqual(await store.listTags(10), []);
        await store.createJob(newJob({ tags: ['ops', 'b', 'Zeta'] }));
        await store.createJob(newJob({ tags: ['ops', 'a_1', 'a.2', 'ñ'] }));
        await store.createJob(newJob({ tags: [] }));
        const byteOrder = ['Zeta', 'a.2', 'a_1', 'b', 'ops', 'ñ'];
        assert.deepEqual(await store.listTags(100), byteOrder, 'each tag once, upper case before lower, ñ after ASCII');
        assert.deepEqual(await store.listTags(2), byteOrder.slice(0, 2));
      });

      it('listJobNames: ids and names in listJobs order, limited', T, async () => {
        assert.deepEqual(await store.listJobNames(10), []);
        const jobs: Job[] = [];
        for (const name of ['beta', 'Alpha', 'alpha', 'épée', 'Zulu', 'a-b']) jobs.push(await store.createJob(newJob({ name })));
        const sorted = jobs.slice().sort(jobOrder).map((j) => ({ id: j.id, name: j.name }));
        assert.deepEqual(await store.listJobNames(100), sorted);
        assert.deepEqual(await store.listJobNames(3), sorted.slice(0, 3));
        assert.deepEqual(
          (await store.listJobs({ limit: 100 })).items.map((j) => ({ id: j.id, name: j.name })),
          sorted,
          'the same order as listJobs',
        );
      });

      it('listJobs: name order (code points, then id), exact-once pages, search, tag, lastRun', T, async () => {
        const names = ['beta', 'Alpha', 'alpha', 'gamma 100%', 'delta_1', 'deltaX1', 'Zulu', 'épée', 'b', 'a-b'];
        const jobs: Job[] = [];
        for (const [i, name] of names.entries()) {
          jobs.push(await store.createJob(newJob({ name, tags: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'] })));
        }
        const sorted = jobs.slice().sort(jobOrder);
        for (const limit of [1, 3, 10, 50]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; ; pages++) {
            assert.ok(pages < 100);
            const page = await store.listJobs({ limit, cursor });
            assert.ok(page.items.length <= limit);
            seen.push(...page.items.map((j) => j.id));
            if (!page.nextCursor) break;
            cursor = page.nextCursor;
          }
          assert.deepEqual(seen, sorted.map((j) => j.id), `limit ${limit}`);
        }

        const search = async (text: string): Promise<string[]> => (await store.listJobs({ limit: 50, search: text })).items.map((j) => j.name);
        assert.deepEqual(await search('ALPHA'), ['Alpha', 'alpha'], 'case-insensitive');
        assert.deepEqual(await search('lt'), ['deltaX1', 'delta_1'], 'in name order: X (U+0058) sorts before _ (U+005F)');
        assert.deepEqual(await search('_'), ['delta_1'], '_ is literal, not a wildcard');
        assert.deepEqual(await search('%'), ['gamma 100%'], '% is literal, not a wildcard');
        assert.deepEqual(await search('.*'), [], 'no regular expressions either');
        assert.deepEqual(await search('nothing'), []);

        const byTag = (await store.listJobs({ limit: 50, tag: 'even' })).items.map((j) => j.name);
        assert.deepEqual(byTag, jobs.filter((_, i) => i % 2 === 0).sort(jobOrder).map((j) => j.name));
        assert.deepEqual((await store.listJobs({ limit: 50, tag: 'even', search: 'a' })).items.map((j) => j.name), byTag.filter((n) => n.toLowerCase().includes('a')));
        assert.equal((await store.listJobs({ limit: 50, tag: 'ev' })).items.length, 0, 'tags match whole');
        const paged = await store.listJobs({ limit: 2, tag: 'all' });
        const next = await store.listJobs({ limit: 2, tag: 'all', cursor: paged.nextCursor! });
        assert.deepEqual([...paged.items, ...next.items].map((j) => j.id), sorted.slice(0, 4).map((j) => j.id), 'filters and cursor together');

        // lastRun: the newest occurrence by scheduledFor (not insertion order), or null.
        const withRuns = jobs[0]!;
        await store.insertRun(newRun(withRuns, { scheduledFor: at(50), status: 'succeeded', instanceId: 'i-x' }));
        const newest = (await store.insertRun(
          newRun(withRuns, { scheduledFor: at(70), status: 'running', startedAt: at(70, 5), instanceId: 'i-y' }),
        ))!;
        await store.insertRun(newRun(withRuns, { scheduledFor: at(60), status: 'failed' }));
        const all = (await store.listJobs({ limit: 50 })).items;
        for (const j of all) {
          if (j.id !== withRuns.id) {
            assert.equal(j.lastRun, null);
            continue;
          }
          assert.deepEqual(j.lastRun, {
            id: newest.id,
            status: 'running',
            scheduledFor: at(70),
            startedAt: at(70, 5),
            finishedAt: null,
            instanceId: 'i-y',
          });
          const { lastRun, ...job } = j;
          void lastRun;
          assert.deepEqual(job, await store.getJob(j.id), 'job fields as getJob');
        }
      });

      it('listExpiredRuns: running runs whose lease expired before the cut-off', T, async () => {
        const job = await store.createJob(newJob());
        const expired1 = await store.insertRun(newRun(job, { scheduledFor: at(1), status: 'running', leaseExpiresAt: at(100) }));
        const expired2 = await store.insertRun(newRun(job, { scheduledFor: at(2), status: 'running', leaseExpiresAt: at(199, 999) }));
        await store.insertRun(newRun(job, { scheduledFor: at(3), status: 'running', leaseExpiresAt: at(200) }));
        await store.insertRun(newRun(job, { scheduledFor: at(4), status: 'running', leaseExpiresAt: at(300) }));
        await store.insertRun(newRun(job, { scheduledFor: at(5), status: 'succeeded', leaseExpiresAt: at(50) }));
        await store.insertRun(newRun(job, { scheduledFor: at(6), status: 'failed', leaseExpiresAt: at(50) }));
        const ids = (await store.listExpiredRuns(at(200), 50)).map((r) => r.id).sort();
        assert.deepEqual(ids, [expired1!.id, expired2!.id].sort());
        assert.equal((await store.listExpiredRuns(at(200), 1)).length, 1);
        await store.updateRun(expired1!.id, { status: 'abandoned', leaseExpiresAt: null });
        assert.deepEqual((await store.listExpiredRuns(at(200), 50)).map((r) => r.id), [expired2!.id]);
      });

      it('updateRun with an owner guard writes only while the run is still that attempt of that instance', T, async () => {
        const job = await store.createJob(newJob());
        const run = (await store.insertRun(newRun(job, { status: 'running', instanceId: 'i-a', attempt: 1, leaseExpiresAt: at(100) })))!;
        assert.equal(await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 1, instanceId: 'i-b' }), null, 'other instance');
        assert.equal(await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 2, instanceId: 'i-a' }), null, 'other attempt');
        assert.equal(time((await store.getRun(run.id))!.leaseExpiresAt), time(at(100)), 'refused writes changed nothing');
        const renewed = await store.updateRun(run.id, { leaseExpiresAt: at(200) }, { attempt: 1, instanceId: 'i-a' });
        assert.equal(time(renewed?.leaseExpiresAt ?? null), time(at(200)));
        await store.updateRun(run.id, { status: 'succeeded', leaseExpiresAt: null }, { attempt: 1, instanceId: 'i-a' });
        assert.equal(await store.updateRun(run.id, { error: 'late' }, { attempt: 1, instanceId: 'i-a' }), null, 'a finished run is not running');
        assert.equal((await store.getRun(run.id))!.error, null);
      });

      it('takeOverRun: the expired attempt goes to the history with outcome unknown, the run becomes attempt + 1, exactly one taker', T, async () => {
        const job = await store.createJob(newJob());
        const run = (await store.insertRun(
          newRun(job, { status: 'running', instanceId: 'dead', attempt: 1, startedAt: at(10), leaseExpiresAt: at(100), output: 'half' }),
        ))!;
        const takeover = (instanceId: string) => ({ instanceId, at: at(105), leaseExpiresAt: at(135), error: 'dead stopped renewing' });
        assert.equal(await store.takeOverRun(run.id, { attempt: 1, leaseExpiredBefore: at(100) }, takeover('x')), null, 'lease not expired yet');
        assert.equal(await store.takeOverRun(run.id, { attempt: 2, leaseExpiredBefore: at(200) }, takeover('x')), null, 'wrong attempt');
        assert.deepEqual(await store.listRunAttempts(run.id), []);
        // Many instances race for the same expired run: one wins.
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.takeOverRun(run.id, { attempt: 1, leaseExpiredBefore: at(104) }, takeover(`taker-${i}`))),
        );
        const winners = results.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        const taken = winners[0]!;
        assert.equal(taken.id, run.id);
        assert.equal(taken.attempt, 2);
        assert.equal(taken.status, 'running');
        assert.match(taken.instanceId ?? '', /^taker-\d$/);
        assert.equal(time(taken.startedAt), time(at(105)));
        assert.equal(time(taken.leaseExpiresAt), time(at(135)));
        assert.equal(taken.finishedAt, null);
        assert.equal(taken.output, null);
        assert.equal(time(taken.scheduledFor), time(run.scheduledFor), 'same occurrence');
        assert.deepEqual(await store.getRun(run.id), taken);
        const history = await store.listRunAttempts(run.id);
        assert.equal(history.length, 1);
        assert.deepEqual(
          { ...history[0]!, startedAt: time(history[0]!.startedAt), finishedAt: time(history[0]!.finishedAt) },
          { attempt: 1, instanceId: 'dead', startedAt: time(at(10)), finishedAt: time(at(105)), status: 'unknown', error: 'dead stopped renewing', output: 'half' },
        );
        // The dead owner cannot write over the new attempt.
        assert.equal(await store.updateRun(run.id, { status: 'succeeded' }, { attempt: 1, instanceId: 'dead' }), null);
        // A second takeover appends to the history.
        const third = await store.takeOverRun(run.id, { attempt: 2, leaseExpiredBefore: at(136) }, { ...takeover('third'), at: at(140) });
        assert.equal(third?.attempt, 3);
        assert.deepEqual((await store.listRunAttempts(run.id)).map((a) => [a.attempt, a.instanceId]), [[1, 'dead'], [2, taken.instanceId]]);
        assert.deepEqual(await store.listRunAttempts('00000000-0000-4000-8000-000000000000'), []);

        // A queued run (waiting for its predecessor, never started) taken over: that attempt did nothing.
        const queued = (await store.insertRun(newRun(job, { scheduledFor: at(500), status: 'running', instanceId: 'dead', startedAt: null, leaseExpiresAt: at(510) })))!;
        const requeued = await store.takeOverRun(queued.id, { attempt: 1, leaseExpiredBefore: at(520) }, takeover('x'));
        assert.ok(requeued);
        assert.equal(requeued.startedAt, null, 'still waiting for its turn: a queued run taken over has not started');
        assert.equal((await store.listRunAttempts(queued.id))[0]!.status, 'abandoned');
      });

      it('retryRun keeps the failed attempt and leaves the run retrying; claimRetry starts the next attempt for exactly one claimer', T, async () => {
        const job = await store.createJob(newJob());
        const run = (await store.insertRun(newRun(job, { status: 'running', instanceId: 'i-a', attempt: 1, startedAt: at(10), leaseExpiresAt: at(100) })))!;
        const ended = { status: 'failed' as const, finishedAt: at(20), error: 'boom', output: 'out-1', waiting: 'attempt 2 at later' };
        assert.equal(await store.retryRun(run.id, { attempt: 1, instanceId: 'i-b' }, ended), null, 'not the owner');
        assert.equal(await store.retryRun(run.id, { attempt: 2, instanceId: 'i-a' }, ended), null, 'not the attempt');
        assert.deepEqual(await store.listRunAttempts(run.id), []);
        const waiting = await store.retryRun(run.id, { attempt: 1, instanceId: 'i-a' }, ended);
        assert.ok(waiting);
        assert.deepEqual(
          [waiting.status, waiting.attempt, waiting.instanceId, waiting.startedAt, waiting.finishedAt, waiting.leaseExpiresAt, waiting.error, waiting.output],
          ['retrying', 2, null, null, null, null, 'attempt 2 at later', null],
        );
        assert.deepEqual(await store.getRun(run.id), waiting);
        const history = await store.listRunAttempts(run.id);
        assert.deepEqual(
          history.map((a) => ({ ...a, startedAt: time(a.startedAt), finishedAt: time(a.finishedAt) })),
          [{ attempt: 1, instanceId: 'i-a', startedAt: time(at(10)), finishedAt: time(at(20)), status: 'failed', error: 'boom', output: 'out-1' }],
        );
        // The former attempt's owner can write nothing any more, and a waiting run is neither active nor expired.
        assert.equal(await store.updateRun(run.id, { status: 'succeeded' }, { attempt: 1, instanceId: 'i-a' }), null);
        assert.equal(await store.retryRun(run.id, { attempt: 1, instanceId: 'i-a' }, ended), null, 'already retried');
        assert.equal(await store.countActiveRuns(job.id, at(0)), 0);
        assert.deepEqual(await store.listExpiredRuns(at(1_000), 10), []);

        assert.equal(await store.claimRetry(run.id, 3, { instanceId: 'x', at: at(30), leaseExpiresAt: at(60) }), null, 'wrong attempt');
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.claimRetry(run.id, 2, { instanceId: `claimer-${i}`, at: at(30), leaseExpiresAt: at(60) })),
        );
        const winners = claims.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        const started = winners[0]!;
        assert.deepEqual([started.status, started.attempt, time(started.startedAt), time(started.leaseExpiresAt)], ['running', 2, time(at(30)), time(at(60))]);
        assert.match(started.instanceId ?? '', /^claimer-\d$/);
        assert.equal(await store.claimRetry(run.id, 2, { instanceId: 'late', at: at(31), leaseExpiresAt: at(61) }), null, 'already started');
        // The new attempt can be retried in turn: the history grows.
        await store.retryRun(run.id, { attempt: 2, instanceId: started.instanceId }, { ...ended, status: 'timed-out', finishedAt: at(40), error: 'slow' });
        assert.deepEqual((await store.listRunAttempts(run.id)).map((a) => [a.attempt, a.status, a.instanceId, time(a.startedAt)]), [
          [1, 'failed', 'i-a', time(at(10))],
          [2, 'timed-out', started.instanceId, time(at(30))],
        ]);
        assert.equal(await store.retryRun('00000000-0000-4000-8000-000000000000', { attempt: 1, instanceId: 'i-a' }, ended), null);
        assert.equal(await store.claimRetry('00000000-0000-4000-8000-000000000000', 2, { instanceId: 'x', at: at(1), leaseExpiresAt: at(2) }), null);
      });

      it('jobs carry retry and concurrencyLimit: defaults when left out, stored, patched', T, async () => {
        const plain = await store.createJob(newJob());
        assert.deepEqual(plain.retry, DEFAULT_RETRY);
        assert.deepEqual(DEFAULT_RETRY, { maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 });
        assert.equal(plain.concurrencyLimit, null);
        const tuned = await store.createJob(newJob({ retry: { maxAttempts: 4, backoffSeconds: 3, maxBackoffSeconds: 30 }, concurrencyLimit: 2 }));
        assert.deepEqual((await store.getJob(tuned.id))?.retry, { maxAttempts: 4, backoffSeconds: 3, maxBackoffSeconds: 30 });
        assert.equal((await store.getJob(tuned.id))?.concurrencyLimit, 2);
        const patched = await store.updateJob(tuned.id, { retry: { maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 1 }, concurrencyLimit: null });
        assert.deepEqual(patched?.retry, { maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 1 });
        assert.equal(patched?.concurrencyLimit, null);
        assert.deepEqual(await store.getJob(tuned.id), patched);
        const other = await store.updateJob(tuned.id, { description: 'x' });
        assert.deepEqual(other?.retry, patched?.retry, 'kept when outside the patch');
        const listed = (await store.listJobs({ limit: 10 })).items.find((j) => j.id === plain.id);
        assert.deepEqual(listed?.retry, DEFAULT_RETRY);
      });

      it('listRuns jobSearch: case-insensitive literal substring of current, earlier and deleted job names, pages exactly', T, async () => {
        const backup = await store.createJob(newJob({ name: 'Nightly Backup' }));
        const weekly = await store.createJob(newJob({ name: 'backup-weekly' }));
        const pct = await store.createJob(newJob({ name: 'report_100%' }));
        const gone = await store.createJob(newJob({ name: 'old BACKUP job' }));
        const renamed = await store.createJob(newJob({ name: 'cleanup' }));
        const runs: Run[] = [];
        for (let i = 0; i < 5; i++) {
          for (const [k, job] of [backup, weekly, pct, gone, renamed].entries()) {
            runs.push((await store.insertRun(newRun(job, { scheduledFor: at(i * 10 + (k % 2)), status: i % 2 ? 'failed' : 'succeeded' })))!);
          }
        }
        await store.deleteJob(gone.id);
        // Runs recorded as "cleanup"; then the job is renamed and runs once more under the new name.
        const moved = (await store.updateJob(renamed.id, { name: 'tidy' }))!;
        runs.push((await store.insertRun(newRun(moved, { scheduledFor: at(100) })))!);

        const expect = async (text: string, jobs: Job[], extra: Omit<RunListQuery, 'limit' | 'cursor' | 'jobSearch'> = {}, filter: (r: Run) => boolean = () => true): Promise<void> => {
          const ids = new Set(jobs.map((j) => j.id));
          const expected = runs.filter((r) => ids.has(r.jobId) && filter(r)).sort(runOrder).map((r) => r.id);
          for (const limit of [2, 50]) {
            const { ids: got } = await allRunPages(store, { ...extra, jobSearch: text, limit });
            assert.deepEqual(got, expected, `"${text}" limit ${limit}`);
          }
        };
        await expect('backup', [backup, weekly, gone]);
        await expect('BACKUP', [backup, weekly, gone]);
        await expect('old b', [gone], {}, () => true);
        await expect('_100%', [pct]);
        await expect('%', [pct]);
        await expect('_', [pct]);
        await expect('.*', []);
        await expect('cleanup', [renamed], {}, () => true);
        await expect('tidy', [renamed]);
        await expect('backup', [backup, weekly, gone], { status: 'failed' }, (r) => r.status === 'failed');
        await expect('backup', [backup], { jobId: backup.id });
        await expect('backup', [], { jobId: pct.id });
        await expect('backup', [backup, weekly, gone], { from: at(10), to: at(31) }, (r) => r.scheduledFor >= at(10) && r.scheduledFor < at(31));
        await expect('no such job', []);
      });

      it('runStats: counts per status and duration percentiles per bucket of scheduledFor, only buckets with runs', T, async () => {
        const job = await store.createJob(newJob());
        const other = await store.createJob(newJob());
        const finished = (s: number, ms: number, status: RunStatus = 'succeeded'): NewRun =>
          newRun(job, { scheduledFor: at(s), startedAt: at(s, 5), finishedAt: at(s, 5 + ms), status });
        // Bucket [0, 60): four durations 100..400 ms and a run without timestamps.
        for (const [i, ms] of [300, 100, 400, 200].entries()) await store.insertRun(finished(i * 10, ms, i === 3 ? 'failed' : 'succeeded'));
        await store.insertRun(newRun(job, { scheduledFor: at(59, 999), status: 'missed' }));
        // Bucket [120, 180): one running run (no duration yet); [60, 120) stays empty.
        await store.insertRun(newRun(job, { scheduledFor: at(120), startedAt: at(120), status: 'running' }));
        // Bucket [180, 240): a single duration.
        await store.insertRun(finished(239, 42, 'timed-out'));
        // Outside [from, to) or another job.
        await store.insertRun(finished(-1, 1));
        await store.insertRun(finished(240, 1));
        await store.insertRun(newRun(other, { scheduledFor: at(1), startedAt: at(1), finishedAt: at(2), status: 'failed' }));

        const stats = await store.runStats({ from: at(0), to: at(240), bucketSeconds: 60, jobId: job.id });
        assert.equal(stats.length, 3);
        assert.deepEqual(stats.map((b) => b.bucketStart.toISOString()), [at(0), at(120), at(180)].map((d) => d.toISOString()));
        assert.deepEqual(stats[0]!.counts, { succeeded: 3, failed: 1, missed: 1 });
        // percentile_cont: 100, 200, 300, 400 -> p50 250, p95 = 300 + 0.85 * 100.
        assert.ok(Math.abs(stats[0]!.durationP50Ms! - 250) < 1e-6, String(stats[0]!.durationP50Ms));
        assert.ok(Math.abs(stats[0]!.durationP95Ms! - 385) < 1e-6, String(stats[0]!.durationP95Ms));
        assert.deepEqual(stats[1], { bucketStart: at(120), counts: { running: 1 }, durationP50Ms: null, durationP95Ms: null });
        assert.deepEqual(stats[2]!.counts, { 'timed-out': 1 });
        assert.equal(stats[2]!.durationP50Ms, 42);
        assert.equal(stats[2]!.durationP95Ms, 42);

        const all = await store.runStats({ from: at(0), to: at(60), bucketSeconds: 60 });
        assert.equal(all.length, 1);
        assert.deepEqual(all[0]!.counts, { succeeded: 3, failed: 2, missed: 1 }, 'every job without jobId');
        // Buckets align to `from`, not to the epoch.
        const shifted = await store.runStats({ from: at(5), to: at(65), bucketSeconds: 30, jobId: job.id });
        assert.deepEqual(shifted.map((b) => [b.bucketStart.toISOString(), b.counts]), [
          [at(5).toISOString(), { succeeded: 2, failed: 1 }],
          [at(35).toISOString(), { missed: 1 }],
        ]);
        assert.deepEqual(await store.runStats({ from: at(1000), to: at(2000), bucketSeconds: 60 }), []);
      });

      it('countRunsByInstance, countActiveRuns, pruneRuns, pruneInstances', T, async () => {
        const job = await store.createJob(newJob());
        const other = await store.createJob(newJob());
        await store.insertRun(newRun(job, { scheduledFor: at(1), startedAt: at(99, 999), instanceId: 'i-a' }));
        for (let i = 0; i < 3; i++) await store.insertRun(newRun(job, { scheduledFor: at(10 + i), startedAt: at(100 + i), instanceId: 'i-b' }));
        await store.insertRun(newRun(job, { scheduledFor: at(20), startedAt: at(100), instanceId: 'i-a' }));
        await store.insertRun(newRun(other, { scheduledFor: at(20), startedAt: at(150), instanceId: 'i-c' }));
        await store.insertRun(newRun(other, { scheduledFor: at(21), startedAt: null, instanceId: 'i-d', status: 'skipped' }));
        await store.insertRun(newRun(other, { scheduledFor: at(22), startedAt: at(150), instanceId: null }));
        assert.deepEqual(await store.countRunsByInstance(at(100)), [
          { instanceId: 'i-b', count: 3 },
          { instanceId: 'i-a', count: 1 },
          { instanceId: 'i-c', count: 1 },
        ]);
        assert.deepEqual(await store.countRunsByInstance(at(1000)), []);

        const active = await store.createJob(newJob());
        await store.insertRun(newRun(active, { scheduledFor: at(1), status: 'running', leaseExpiresAt: at(500) }));
        await store.insertRun(newRun(active, { scheduledFor: at(2), status: 'running', leaseExpiresAt: at(500, 1) }));
        await store.insertRun(newRun(active, { scheduledFor: at(3), status: 'running', leaseExpiresAt: at(499) }));
        await store.insertRun(newRun(active, { scheduledFor: at(4), status: 'succeeded', leaseExpiresAt: at(900) }));
        await store.insertRun(newRun(active, { scheduledFor: at(5), status: 'running', leaseExpiresAt: null }));
        assert.equal(await store.countActiveRuns(active.id, at(500)), 1, 'lease must expire after now');
        assert.equal(await store.countActiveRuns(active.id, at(499, 500)), 2);
        assert.equal(await store.countActiveRuns(other.id, at(0)), 0, 'running runs without a lease do not count');
        assert.equal(await store.countActiveRuns(randomUUID(), at(0)), 0);

        const old = await store.createJob(newJob());
        const kept: string[] = [];
        const prunable: Run[] = [];
        for (let i = 0; i < 7; i++) prunable.push((await store.insertRun(newRun(old, { scheduledFor: at(-100 + i), status: i % 2 ? 'failed' : 'succeeded' })))!);
        kept.push((await store.insertRun(newRun(old, { scheduledFor: at(-200), status: 'running' })))!.id);
        kept.push((await store.insertRun(newRun(old, { scheduledFor: at(-300), status: 'retrying' })))!.id);
        kept.push((await store.insertRun(newRun(old, { scheduledFor: at(0), status: 'succeeded' })))!.id);
        assert.equal(await store.pruneRuns(at(0), 3), 3);
        const left = async (): Promise<string[]> => (await allRunPages(store, { jobId: old.id, limit: 50 })).ids.sort();
        assert.deepEqual(await left(), [...kept, ...prunable.slice(3).map((r) => r.id)].sort(), 'the three oldest went first');
        assert.equal(await store.pruneRuns(at(0), 100), 4);
        assert.deepEqual(await left(), kept.slice().sort(), 'running, retrying and not-older runs stay');
        assert.equal(await store.pruneRuns(at(0), 100), 0);

        const base: Instance = { id: 'x', host: 'h', pid: 1, version: '1', startedAt: at(0), lastSeenAt: at(0), clockSkewMs: 0, stoppedAt: null, aliveSince: at(0) };
        await store.upsertInstance({ ...base, id: 'stale-1', lastSeenAt: at(10) });
        await store.upsertInstance({ ...base, id: 'stale-2', lastSeenAt: at(19, 999) });
        await store.upsertInstance({ ...base, id: 'fresh', lastSeenAt: at(20) });
        assert.equal(await store.pruneInstances(at(20)), 2);
        assert.deepEqual((await store.listInstances()).map((i) => i.id), ['fresh']);
      });

      it('users: case-insensitive unique usernames, lookups, ordered list, update, delete, count', T, async () => {
        assert.equal(await store.countUsers(), 0);
        const alice = await store.createUser({ username: 'Alice', role: 'admin', passwordHash: 'h1' });
        assert.match(alice.id, /^[0-9a-f-]{36}$/);
        assert.equal(alice.username, 'Alice');
        assert.equal(alice.role, 'admin');
        assert.equal(alice.disabled, false);
        assert.equal(alice.failedLogins, 0);
        assert.equal(alice.lockedUntil, null);
        assert.ok(alice.createdAt instanceof Date && alice.updatedAt instanceof Date);
        assert.deepEqual(await store.getUser(alice.id), alice);
        assert.deepEqual(await store.getUserByUsername('aLICE'), alice);
        assert.equal(await store.getUserByUsername('alic'), null);
        assert.equal(await store.getUser(randomUUID()), null);
        assert.equal(await store.getUser('nope'), null);
        await assert.rejects(store.createUser({ username: 'ALICE', role: 'viewer', passwordHash: 'x' }), (err: unknown) => {
          assert.ok(err instanceof UsernameTakenError);
          assert.equal(err.username, 'ALICE');
          return true;
        });
        const raced = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.createUser({ username: i % 2 ? 'bob' : 'BOB', role: 'viewer', passwordHash: 'x' })));
        assert.equal(raced.filter((r) => r.status === 'fulfilled').length, 1, 'one of the concurrent creates wins');
        for (const r of raced) if (r.status === 'rejected') assert.ok(r.reason instanceof UsernameTakenError);
        const carol = await store.createUser({ username: 'carol', role: 'operator', passwordHash: 'h3', disabled: true });
        assert.equal(carol.disabled, true);
        assert.equal(await store.countUsers(), 3);
        assert.deepEqual((await store.listUsers()).map((u) => u.username.toLowerCase()), ['alice', 'bob', 'carol']);

        const updated = await store.updateUser(alice.id, { role: 'viewer', passwordHash: 'h1b', disabled: true, failedLogins: 2, lockedUntil: at(5) });
        assert.ok(updated);
        assert.equal(updated.role, 'viewer');
        assert.equal(updated.passwordHash, 'h1b');
        assert.equal(updated.disabled, true);
        assert.equal(updated.failedLogins, 2);
        assert.equal(time(updated.lockedUntil), time(at(5)));
        assert.equal(updated.username, 'Alice', 'kept');
        assert.equal(time(updated.createdAt), time(alice.createdAt));
        assert.ok(updated.updatedAt.getTime() >= alice.updatedAt.getTime());
        assert.deepEqual(await store.getUser(alice.id), updated);
        await assert.rejects(store.updateUser(alice.id, { username: 'Carol' }), UsernameTakenError);
        assert.equal((await store.updateUser(alice.id, { username: 'ALICE' }))?.username, 'ALICE', 'its own name in another case is fine');
        assert.equal((await store.getUserByUsername('alice'))?.id, alice.id);
        assert.equal(await store.updateUser(randomUUID(), { role: 'admin' }), null);

        const session = await store.createSession({ userId: carol.id, expiresAt: at(1000), ip: null, userAgent: null });
        assert.equal(await store.deleteUser(carol.id), true);
        assert.equal(await store.deleteUser(carol.id), false);
        assert.equal(await store.getUser(carol.id), null);
        assert.equal(await store.getSession(session.id), null, "the user's sessions go with it");
        assert.equal(await store.countUsers(), 2);
        assert.ok(await store.createUser({ username: 'Carol', role: 'viewer', passwordHash: 'x' }), 'the name is free again');
      });

      it('recordLoginFailure counts atomically and locks at the threshold; recordLoginSuccess resets', T, async () => {
        const user = await store.createUser({ username: 'dave', role: 'operator', passwordHash: 'h' });
        const lock = { threshold: 5, until: at(3600) };
        const first = await store.recordLoginFailure(user.id, lock);
        assert.equal(first?.failedLogins, 1);
        assert.equal(first?.lockedUntil, null);
        const results = await Promise.all(Array.from({ length: 9 }, () => store.recordLoginFailure(user.id, lock)));
        assert.deepEqual(results.map((u) => u!.failedLogins).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'no lost increments');
        for (const u of results) if (u!.failedLogins < 5) assert.equal(u!.lockedUntil, null);
        const now = (await store.getUser(user.id))!;
        assert.equal(now.failedLogins, 10);
        assert.equal(time(now.lockedUntil), time(at(3600)));
        const reset = await store.recordLoginSuccess(user.id);
        assert.equal(reset?.failedLogins, 0);
        assert.equal(reset?.lockedUntil, null);
        assert.deepEqual(await store.getUser(user.id), reset);
        assert.equal(await store.recordLoginFailure(randomUUID(), lock), null);
        assert.equal(await store.recordLoginSuccess(randomUUID()), null);
        const once = await store.recordLoginFailure(user.id, { threshold: 1, until: at(7) });
        assert.equal(time(once!.lockedUntil), time(at(7)), 'threshold 1 locks on the first failure');
      });

      it('sessions: create, get, touch (never backwards), revoke one or all of a user, prune', T, async () => {
        const user = await store.createUser({ username: 'erin', role: 'viewer', passwordHash: 'h' });
        const other = await store.createUser({ username: 'frank', role: 'viewer', passwordHash: 'h' });
        const before = await store.now();
        const s1 = await store.createSession({ userId: user.id, expiresAt: at(1000), ip: '127.0.0.1', userAgent: 'test/1.0' });
        assert.ok(s1.id.length >= 32, 'a generated id is long and random');
        assert.equal(s1.userId, user.id);
        assert.equal(s1.revokedAt, null);
        assert.equal(time(s1.lastSeenAt), time(s1.createdAt));
        assert.ok(s1.createdAt.getTime() >= before.getTime() - 1000, 'database time');
        assert.deepEqual(await store.getSession(s1.id), s1);
        const expired = new Date(before.getTime() - 3_600_000);
        const s2 = await store.createSession({ id: 'my-own-session-id', userId: user.id, expiresAt: expired, ip: null, userAgent: null });
        assert.equal(s2.id, 'my-own-session-id');
        await assert.rejects(store.createSession({ id: 'my-own-session-id', userId: user.id, expiresAt: at(10), ip: null, userAgent: null }), 'ids are unique');
        const s3 = await store.createSession({ userId: other.id, expiresAt: at(1000), ip: null, userAgent: null });

        const future = new Date(s1.createdAt.getTime() + 60_000);
        assert.equal(await store.touchSession(s1.id, future), true);
        assert.equal(time((await store.getSession(s1.id))!.lastSeenAt), time(future));
        assert.equal(await store.touchSession(s1.id, new Date(s1.createdAt.getTime() - 3_600_000)), true);
        assert.equal(time((await store.getSession(s1.id))!.lastSeenAt), time(future), 'an older touch does not move it back');
        assert.equal(await store.touchSession('unknown', future), false);

        assert.equal(await store.revokeSession(s1.id), true);
        const revoked = (await store.getSession(s1.id))!;
        assert.ok(revoked.revokedAt instanceof Date);
        assert.equal(await store.revokeSession(s1.id), false, 'already revoked');
        assert.equal(time((await store.getSession(s1.id))!.revokedAt), time(revoked.revokedAt), 'first revocation time kept');
        assert.equal(await store.revokeSession('unknown'), false);
        assert.equal(await store.revokeUserSessions(user.id), 1, 's2 only: s1 was revoked already');
        assert.ok((await store.getSession(s2.id))!.revokedAt instanceof Date);
        assert.equal((await store.getSession(s3.id))!.revokedAt, null, "another user's session stays");
        assert.equal(await store.revokeUserSessions(randomUUID()), 0);

        // s2 expired an hour ago; s1 was revoked just now; s3 neither.
        assert.equal(await store.pruneSessions(new Date(expired.getTime() + 1)), 1);
        assert.equal(await store.getSession(s2.id), null);
        assert.ok(await store.getSession(s1.id));
        assert.equal(await store.pruneSessions(new Date(revoked.revokedAt!.getTime() + 1)), 1, 'revoked before the cut-off');
        assert.equal(await store.getSession(s1.id), null);
        assert.ok(await store.getSession(s3.id));
      });

      it('API tokens: create, find by hash (unique), list newest first, revoke once, touch forward only', T, async () => {
        const t1 = await store.createApiToken({ name: 'ci', role: 'operator', tokenHash: 'hash-1', prefix: 'cp_ab', createdBy: 'alice' });
        assert.match(t1.id, /^[0-9a-f-]{36}$/);
        assert.deepEqual({ ...t1, id: '', createdAt: null }, { id: '', name: 'ci', role: 'operator', tokenHash: 'hash-1', prefix: 'cp_ab', createdAt: null, createdBy: 'alice', lastUsedAt: null, revokedAt: null });
        assert.ok(t1.createdAt instanceof Date);
        const t2 = await store.createApiToken({ name: 'bot', role: 'viewer', tokenHash: 'hash-2', prefix: 'cp_cd', createdBy: null });
        await assert.rejects(store.createApiToken({ name: 'dup', role: 'viewer', tokenHash: 'hash-1', prefix: 'x', createdBy: null }), 'hashes are unique');
        assert.deepEqual(await store.getApiTokenByHash('hash-1'), t1);
        assert.equal(await store.getApiTokenByHash('hash-3'), null);
        const listed = await store.listApiTokens();
        const expected = [t1, t2].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
        assert.deepEqual(listed, expected);

        const used = new Date(t1.createdAt.getTime() + 5000);
        assert.equal(await store.touchApiToken(t1.id, used), true);
        assert.equal(time((await store.getApiTokenByHash('hash-1'))!.lastUsedAt), time(used));
        assert.equal(await store.touchApiToken(t1.id, new Date(t1.createdAt.getTime() - 3_600_000)), true);
        assert.equal(time((await store.getApiTokenByHash('hash-1'))!.lastUsedAt), time(used), 'never backwards');
        assert.equal(await store.touchApiToken(randomUUID(), used), false);
        assert.equal(await store.revokeApiToken(t1.id), true);
        assert.ok((await store.getApiTokenByHash('hash-1'))!.revokedAt instanceof Date, 'a revoked token is still found, marked');
        assert.equal(await store.revokeApiToken(t1.id), false);
        assert.equal(await store.revokeApiToken(randomUUID()), false);
        assert.equal((await store.getApiTokenByHash('hash-2'))!.revokedAt, null);
      });

      it('audit log: append stamps database time; listAudit newest first, keyset pages, every filter', T, async () => {
        const before = await store.now();
        const entries: AuditEntry[] = [];
        const actions = ['job.create', 'job.update', 'login.failure'];
        for (let i = 0; i < 14; i++) {
          entries.push(
            await store.appendAudit({
              actorType: i % 4 === 0 ? 'system' : i % 2 ? 'user' : 'token',
              actorId: i % 4 === 0 ? null : `actor-${i % 3}`,
              actorName: i % 4 === 0 ? 'system' : `name-${i % 3}`,
              action: actions[i % 3]!,
              targetType: i % 5 === 0 ? null : 'job',
              targetId: i % 5 === 0 ? null : `job-${i % 2}`,
              targetName: i % 5 === 0 ? null : `Job ${i % 2}`,
              ip: i % 2 ? '10.0.0.1' : null,
              changes: i % 3 === 1 ? { name: { before: 'a.b', after: 'c' }, 'payload.$url': { before: null, after: { nested: [1, 'x', true] } } } : null,
            }),
          );
        }
        const after = await store.now();
        for (const e of entries) {
          assert.ok(e.at.getTime() >= before.getTime() && e.at.getTime() <= after.getTime(), 'database time');
          assert.match(e.id, /^[0-9a-f-]{36}$/);
        }
        assert.deepEqual(entries[1]!.changes, { name: { before: 'a.b', after: 'c' }, 'payload.$url': { before: null, after: { nested: [1, 'x', true] } } });
        const order = (a: AuditEntry, b: AuditEntry): number => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
        const all = async (query: Omit<AuditListQuery, 'cursor'>): Promise<AuditEntry[]> => {
          const out: AuditEntry[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = await store.listAudit({ ...query, cursor });
            assert.ok(page.items.length <= query.limit);
            out.push(...page.items);
            if (!page.nextCursor) return out;
            cursor = page.nextCursor;
          }
          throw new Error('pagination did not terminate');
        };
        const mid = entries.slice().sort((a, b) => a.at.getTime() - b.at.getTime())[7]!.at;
        const cases: Array<[Omit<AuditListQuery, 'limit' | 'cursor'>, (e: AuditEntry) => boolean]> = [
          [{}, () => true],
          [{ actorName: 'name-1' }, (e) => e.actorName === 'name-1'],
          [{ action: 'job.update' }, (e) => e.action === 'job.update'],
          [{ targetType: 'job' }, (e) => e.targetType === 'job'],
          [{ targetType: 'job', targetId: 'job-1' }, (e) => e.targetType === 'job' && e.targetId === 'job-1'],
          [{ from: mid }, (e) => e.at.getTime() >= mid.getTime()],
          [{ to: mid }, (e) => e.at.getTime() < mid.getTime()],
          [{ action: 'nothing' }, () => false],
        ];
        for (const [filter, predicate] of cases) {
          const expected = entries.filter(predicate).sort(order);
          for (const limit of [1, 4, 50]) assert.deepEqual(await all({ ...filter, limit }), expected, `${JSON.stringify(filter)} limit ${limit}`);
        }
        await assert.rejects(store.listAudit({ limit: 5, cursor: 'garbage!' }));
        const s = store as unknown as Record<string, unknown>;
        for (const name of ['updateAudit', 'deleteAudit', 'pruneAudit']) assert.equal(s[name], undefined, 'append-only');
      });

      it('upsertInstance inserts, then updates in place; listInstances returns them all', T, async () => {
        const a: Instance = {
          id: `host-1:${randomUUID()}`,
          host: 'host-1',
          pid: 4242,
          version: '0.1.0',
          startedAt: at(0, 1),
          lastSeenAt: at(5, 2),
          clockSkewMs: -37,
          stoppedAt: null,
          aliveSince: at(3, 4),
        };
        const b: Instance = { ...a, id: `host-2:${randomUUID()}`, host: 'host-2', pid: 7, clockSkewMs: 12 };
        await store.upsertInstance(a);
        await store.upsertInstance(b);
        const a2: Instance = { ...a, lastSeenAt: at(15, 3), clockSkewMs: 5, stoppedAt: at(16), aliveSince: at(12) };
        await store.upsertInstance(a2);
        const list = await store.listInstances();
        assert.equal(list.length, 2);
        const byId = new Map(list.map((i) => [i.id, i]));
        assert.deepEqual(byId.get(a.id), a2);
        assert.deepEqual(byId.get(b.id), b);
      });
    });
  });
}
