import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPostgres, type TestPostgres } from '../support/postgres';
import type { JobContext } from '../../lib/jobs/define';
import type { Job, Run, RunStatus, Store } from '../../lib/store/types';
import { SYSTEM_ACTOR } from '../../lib/auth/principal';

// Dashboard services against a real PostgreSQL: run stats (charts), bulk commands, the prune-runs system job and
// its start-up creation.
let pg: TestPostgres;
let store: Store;
let jobs: typeof import('../../lib/services/jobs');
let bulk: typeof import('../../lib/services/bulk');
let stats: typeof import('../../lib/services/stats');
let system: typeof import('../../lib/services/system-jobs');
let registry: typeof import('../../lib/jobs/registry');
let dispatch: typeof import('../../lib/scheduler/dispatch');

before(
  async () => {
    pg = await startTestPostgres();
    process.env.DATABASE_URL = pg.url;
    const { getStore } = await import('../../lib/store');
    store = await getStore();
    jobs = await import('../../lib/services/jobs');
    bulk = await import('../../lib/services/bulk');
    stats = await import('../../lib/services/stats');
    system = await import('../../lib/services/system-jobs');
    registry = await import('../../lib/jobs/registry');
    dispatch = await import('../../lib/scheduler/dispatch');
  },
  { timeout: 60_000 },
);

after(
  async () => {
    await dispatch?.closeDispatchClient();
    await store?.close();
    await pg?.stop();
  },
  { timeout: 30_000 },
);

async function newJob(name: string, paused = false): Promise<Job> {
  return jobs.createJob(
    { name, type: 'log', payload: { message: 'hi' }, schedule: { kind: 'interval', seconds: 3600 }, paused, tags: ['t'] },
    SYSTEM_ACTOR,
  );
}

async function insertRun(job: Job, scheduledFor: Date, status: RunStatus, durationMs: number | null): Promise<Run> {
  const run = await store.insertRun({
    jobId: job.id,
    jobName: job.name,
    scheduledFor,
    startedAt: durationMs === null ? null : scheduledFor,
    finishedAt: durationMs === null || status === 'running' ? null : new Date(scheduledFor.getTime() + durationMs),
    status,
    trigger: 'schedule',
    instanceId: 'i-test',
    attempt: 1,
    error: null,
    output: null,
    leaseExpiresAt: null,
  });
  assert.ok(run);
  return run;
}

function context(): { ctx: JobContext; lines: string[]; abort: AbortController } {
  const lines: string[] = [];
  const abort = new AbortController();
  const ctx: JobContext = {
    jobId: 'j',
    jobName: 'prune',
    runId: 'r',
    scheduledFor: new Date(),
    attempt: 1,
    trigger: 'schedule',
    instanceId: 'i',
    stillOwned: () => true,
    retention: store,
    signingSecrets: () => Promise.reject(new Error('the prune job signs nothing')),
    signal: abort.signal,
    log: (line) => lines.push(line),
  };
  return { ctx, lines, abort };
}

describe('run stats service', () => {
  test(
    'every bucket of the last hour, runs counted by status in their minute, durations per bucket, per job or all',
    { timeout: 30_000 },
    async () => {
      const a = await newJob('stats-a', true);
      const b = await newJob('stats-b', true);
      const now = await store.now();
      const minuteStart = (ago: number) => new Date(Math.floor(now.getTime() / 60_000) * 60_000 - ago * 60_000);
      await insertRun(a, new Date(minuteStart(5).getTime() + 1_000), 'succeeded', 100);
      await insertRun(a, new Date(minuteStart(5).getTime() + 2_000), 'succeeded', 300);
      await insertRun(a, new Date(minuteStart(5).getTime() + 3_000), 'failed', 500);
      await insertRun(a, new Date(minuteStart(20).getTime() + 1_000), 'skipped', null);
      await insertRun(b, new Date(minuteStart(5).getTime() + 4_000), 'succeeded', 10_000);
      await insertRun(a, new Date(now.getTime() - 2 * 3600_000), 'succeeded', 50); // outside the 1 h window

      const view = await stats.getRunStats('1h', a.id);
      assert.equal(view.series.points.length, 60);
      assert.equal(view.series.total, 4, 'job a only, last hour only');
      const five = view.series.points.find((p) => p.start.getTime() === minuteStart(5).getTime());
      assert.ok(five);
      assert.equal(five.counts.succeeded, 2);
      assert.equal(five.counts.failed, 1);
      assert.equal(five.p50Ms, 300);
      assert.ok(five.p95Ms !== null && five.p95Ms > 450 && five.p95Ms <= 500, `p95 ${five.p95Ms}`);
      const twenty = view.series.points.find((p) => p.start.getTime() === minuteStart(20).getTime());
      assert.equal(twenty?.counts.skipped, 1);
      assert.equal(twenty?.p50Ms, null, 'a skipped run has no duration');
      assert.equal(view.series.points.filter((p) => p.total === 0).length, 58, 'gaps filled');

      const all = await stats.getRunStats('1h');
      assert.equal(all.series.total, 5);
      assert.equal(all.series.maxDurationMs !== null && all.series.maxDurationMs > 500, true, 'job b is in the overview');
      await assert.rejects(stats.getRunStats('1h', 'not-an-id'), /not found/);
    },
  );
});

describe('bulk commands', () => {
  test(
    'pause, resume and delete each selected job; a missing job is reported without stopping the others',
    { timeout: 30_000 },
    async () => {
      const picked = [await newJob('bulk-1'), await newJob('bulk-2'), await newJob('bulk-3')];
      const bystander = await newJob('bulk-bystander');
      const gone = await newJob('bulk-gone');
      await jobs.deleteJob(gone.id, SYSTEM_ACTOR);
      const ids = picked.map((j) => j.id);

      const paused = await bulk.bulkJobs('pause', [ids[0]!, gone.id, ids[1]!, ids[2]!, ids[0]!], SYSTEM_ACTOR);
      assert.deepEqual(paused.succeeded, ids, 'each once, in order, duplicates dropped');
      assert.deepEqual(
        paused.failed.map((f) => f.id),
        [gone.id],
      );
      assert.match(paused.failed[0]!.error, /not found/);
      for (const id of ids) {
        const job = await store.getJob(id);
        assert.equal(job?.paused, true);
        assert.equal(job?.nextRunAt, null);
      }
      assert.equal((await store.getJob(bystander.id))?.paused, false, 'unselected jobs untouched');

      const resumed = await bulk.bulkJobs('resume', ids.slice(0, 2), SYSTEM_ACTOR);
      assert.deepEqual(resumed.failed, []);
      assert.equal((await store.getJob(ids[0]!))?.paused, false);
      assert.ok((await store.getJob(ids[0]!))?.nextRunAt, 'resumed jobs are scheduled again');
      assert.equal((await store.getJob(ids[2]!))?.paused, true);

      const deleted = await bulk.bulkJobs('delete', [...ids, 'not-a-uuid'], SYSTEM_ACTOR);
      assert.deepEqual(deleted.succeeded, ids);
      assert.deepEqual(
        deleted.failed.map((f) => f.id),
        ['not-a-uuid'],
      );
      for (const id of ids) assert.equal(await store.getJob(id), null);
      assert.ok(await store.getJob(bystander.id));

      await assert.rejects(bulk.bulkJobs('explode' as 'pause', ids, SYSTEM_ACTOR), /unknown bulk action/);
      await assert.rejects(
        bulk.bulkJobs(
          'pause',
          Array.from({ length: bulk.BULK_LIMIT + 1 }, (_, i) => String(i)),
          SYSTEM_ACTOR,
        ),
        /at most/,
      );
    },
  );

  test('listJobTags lists each tag once in code point order', { timeout: 30_000 }, async () => {
    await jobs.createJob(
      {
        name: 'tags-1',
        type: 'log',
        payload: { message: 'x' },
        schedule: { kind: 'interval', seconds: 60 },
        paused: true,
        tags: ['zeta', 'Alpha'],
      },
      SYSTEM_ACTOR,
    );
    const tags = await jobs.listJobTags();
    assert.ok(tags.includes('zeta') && tags.includes('Alpha') && tags.includes('t'));
    assert.deepEqual(tags, [...new Set(tags)].sort(), 'sorted, distinct');
  });
});

describe('prune-runs system job', () => {
  test(
    'deletes finished runs older than the retention in batches, keeps running and recent ones, forgets old instances',
    { timeout: 60_000 },
    async () => {
      const job = await newJob('prune-target', true);
      const now = await store.now();
      const day = 86_400_000;
      const old: Run[] = [];
      for (let i = 0; i < 25; i++)
        old.push(await insertRun(job, new Date(now.getTime() - 40 * day - i * 1000), i % 3 ? 'succeeded' : 'failed', 10));
      const oldRunning = await insertRun(job, new Date(now.getTime() - 45 * day), 'running', 10);
      const recent = await insertRun(job, new Date(now.getTime() - 29 * day), 'succeeded', 10);
      const base = { host: 'h', pid: 1, version: '1', startedAt: now, clockSkewMs: 0, stoppedAt: null, aliveSince: now };
      await store.upsertInstance({ ...base, id: 'prune-old', lastSeenAt: new Date(now.getTime() - 2 * day) });
      await store.upsertInstance({ ...base, id: 'prune-fresh', lastSeenAt: now });

      const type = registry.getJobType('prune-runs');
      assert.ok(type, 'registered');
      const payload = type.payloadSchema.parse({ batchSize: 10 }) as Record<string, unknown>;
      const { ctx, lines } = context();
      delete process.env.RUN_RETENTION_DAYS;
      await type.run(payload, ctx);

      const left = (await store.listRuns({ limit: 100, jobId: job.id })).items.map((r) => r.id).sort();
      assert.deepEqual(left, [oldRunning.id, recent.id].sort(), 'default retention 30 days; running runs stay');
      assert.match(lines.join('\n'), /deleted 25 finished runs .* in 3 batches/);
      const instances = (await store.listInstances()).map((i) => i.id);
      assert.ok(instances.includes('prune-fresh') && !instances.includes('prune-old'), JSON.stringify(instances));

      // RUN_RETENTION_DAYS is read at each run; an explicit olderThanDays wins over it.
      process.env.RUN_RETENTION_DAYS = '28';
      await type.run(type.payloadSchema.parse({}) as Record<string, unknown>, context().ctx);
      assert.equal(await store.getRun(recent.id), null, 'retention from the environment');
      const newer = await insertRun(job, new Date(now.getTime() - 5 * day), 'succeeded', 10);
      await type.run(type.payloadSchema.parse({ olderThanDays: 10 }) as Record<string, unknown>, context().ctx);
      assert.ok(await store.getRun(newer.id), '5 days old, olderThanDays 10');
      process.env.RUN_RETENTION_DAYS = 'banana';
      await type.run(type.payloadSchema.parse({ olderThanDays: 4 }) as Record<string, unknown>, context().ctx);
      assert.equal(await store.getRun(newer.id), null);
      delete process.env.RUN_RETENTION_DAYS;
    },
  );

  test(
    'deletes sign-in sessions that expired or were revoked a day or more ago, and sign-in budgets whose window ended; live and recent ones stay',
    { timeout: 30_000 },
    async () => {
      const user = await store.createUser({ username: `prune-sessions-${Date.now()}`, role: 'viewer', passwordHash: 'x' });
      const now = await store.now();
      const day = 86_400_000;
      const session = (expiresAt: Date) => store.createSession({ userId: user.id, expiresAt, ip: null, userAgent: null });
      const expiredLongAgo = await session(new Date(now.getTime() - 2 * day));
      const expiredJustNow = await session(new Date(now.getTime() - 60_000));
      const live = await session(new Date(now.getTime() + day));
      const revoked = await session(new Date(now.getTime() + day));
      await store.revokeSession(revoked.id);
      // Sign-in budgets: one whose window is over (1 ms), one live for an hour.
      assert.equal((await store.takeLoginAttempt('ip:prune-ended', { max: 1, windowMs: 1 })).granted, true);
      assert.equal((await store.takeLoginAttempt('ip:prune-live', { max: 1, windowMs: 3_600_000 })).granted, true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const type = registry.getJobType('prune-runs')!;
      const { ctx, lines } = context();
      await type.run(type.payloadSchema.parse({}) as Record<string, unknown>, ctx);
      assert.match(lines.join('\n'), /deleted 1 sign-in budget whose window ended/);
      assert.equal((await store.takeLoginAttempt('ip:prune-live', { max: 1, windowMs: 3_600_000 })).granted, false, 'live: kept');
      assert.equal(await store.getSession(expiredLongAgo.id), null, 'expired two days ago: deleted');
      assert.ok(await store.getSession(expiredJustNow.id), 'expired a minute ago: kept (less than a day)');
      assert.ok(await store.getSession(live.id), 'live: kept');
      assert.ok(await store.getSession(revoked.id), 'revoked just now: kept (less than a day)');
      assert.match(lines.join('\n'), /deleted \d+ sessions? expired or revoked before /);
    },
  );

  test('stops between batches when its signal aborts', { timeout: 30_000 }, async () => {
    const job = await newJob('prune-abort', true);
    const now = await store.now();
    for (let i = 0; i < 5; i++) await insertRun(job, new Date(now.getTime() - 100 * 86_400_000 - i * 1000), 'succeeded', 1);
    const type = registry.getJobType('prune-runs')!;
    const { ctx, abort } = context();
    abort.abort(new Error('timed out'));
    await assert.rejects(type.run(type.payloadSchema.parse({ batchSize: 1 }) as Record<string, unknown>, ctx), /interrupted/);
    assert.equal((await store.listRuns({ limit: 10, jobId: job.id })).items.length, 5);
  });

  test('the payload schema refuses nonsense', () => {
    const type = registry.getJobType('prune-runs')!;
    for (const bad of [{ olderThanDays: 0 }, { batchSize: 0 }, { olderThanDays: 1.5 }, { extra: true }]) {
      assert.equal(type.payloadSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  test('ensureSystemJobs creates the daily prune job once, even when instances race', { timeout: 30_000 }, async () => {
    const results = await Promise.all([system.ensureSystemJobs(), system.ensureSystemJobs(), system.ensureSystemJobs()]);
    assert.equal(results.flat().filter((n) => n === system.PRUNE_JOB_NAME).length, 1, JSON.stringify(results));
    assert.deepEqual(await system.ensureSystemJobs(), []);
    const found = (await jobs.listJobs({ limit: 10, search: system.PRUNE_JOB_NAME })).items;
    assert.equal(found.length, 1);
    assert.equal(found[0]!.type, 'prune-runs');
    assert.equal(found[0]!.paused, false);
    assert.ok(found[0]!.nextRunAt, 'scheduled');
    assert.equal(found[0]!.schedule.kind, 'cron');
  });
});
