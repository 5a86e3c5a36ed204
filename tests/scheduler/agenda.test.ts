/**
 * The scheduler's Agenda adapter (lib/scheduler/agenda.ts): the internals of Agenda 6.2.6 it patches are there (a
 * new Agenda whose shape differs fails here, loudly, before it silently slows the scheduler down); its replacement of
 * Agenda's queue filling and its skipped ticket state saves, against a real PostgreSQL (batch locking) and the
 * MongoDB-wire test server (one lock at a time): lock conditions, disjoint batches across instances, the lock limit
 * under a storm of notifications without lock/unlock churn, and every ticket run exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agenda, type AgendaBackend, type JobParameters } from 'agenda';
import pg from 'pg';
import {
  canLockInBatches,
  checkAgendaInternals,
  guardBackendErrors,
  installQueueFilling,
  skipTicketStateSaves,
} from '../../lib/scheduler/agenda';
import { createMongoStore } from '../../lib/store/mongo';
import { createPostgresStore } from '../../lib/store/postgres';
import type { Store } from '../../lib/store/types';
import { startTestMongo } from '../support/mongo';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const NAME = 'queue-filling-test';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function insertTickets(client: pg.Client, rows: Array<{ due: string; locked?: string | null; disabled?: boolean }>): Promise<void> {
  for (const [i, r] of rows.entries()) {
    await client.query(
      `INSERT INTO agenda_jobs (name, next_run_at, locked_at, disabled, data) VALUES ($1, now() + $2::interval, now() + $3::interval, $4, $5)`,
      [NAME, r.due, r.locked ?? null, r.disabled ?? false, { i }],
    );
  }
}

describe('postgres: batch ticket locking (lockNextJobs)', () => {
  let db: TestPostgres;
  let store: Store;
  let backend: AgendaBackend;
  let client: pg.Client;

  before(async () => {
    db = await startTestPostgres();
    store = await createPostgresStore(db.url, 'postgres (test)');
    await store.migrate();
    backend = store.createAgendaBackend();
    await backend.connect();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await backend?.disconnect();
    await store?.close();
    await db?.stop();
  });

  it("locks up to the limit of what Agenda's own lock query would take, and nothing else", async () => {
    await client.query('DELETE FROM agenda_jobs');
    await insertTickets(client, [
      ...Array.from({ length: 6 }, () => ({ due: '-1 second' })), // due, unlocked
      { due: '-2 seconds', locked: '-1 second' }, // locked by someone, lock alive
      { due: '-3 seconds', locked: '-10 minutes' }, // lock expired: lockable again
      { due: '+1 hour' }, // not due before nextScanAt
      { due: '-1 second', disabled: true },
    ]);
    const repository = backend.repository;
    assert.ok(canLockInBatches(repository), 'the PostgreSQL store adds batch locking to its Agenda repository');
    const nextScanAt = new Date(Date.now() + 1000);
    const lockDeadline = new Date(Date.now() - 60_000);
    const first = await repository.lockNextJobs(NAME, nextScanAt, lockDeadline, 4, 'me');
    // The 4 oldest fresh ones plus the expired one (expired locks come on top of the limit; the caller hands back extras).
    assert.equal(first.length, 5);
    const expired = first.filter((j) => j.data && (j.data as { i: number }).i === 7);
    assert.equal(expired.length, 1, 'the expired lock is taken over');
    const second = await repository.lockNextJobs(NAME, nextScanAt, lockDeadline, 10, 'me');
    assert.equal(second.length, 2, 'the two fresh ones left; not the live lock, the future one or the disabled one');
    const ids = new Set([...first, ...second].map((j) => String(j._id)));
    assert.equal(ids.size, 7);
    assert.deepEqual(await repository.lockNextJobs(NAME, nextScanAt, lockDeadline, 10, 'me'), []);
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) n FROM agenda_jobs WHERE locked_at > now() - interval '1 minute' AND last_modified_by = 'me'`,
    );
    assert.equal(Number(rows[0]!.n), 7, 'every returned ticket is locked in the table, by the caller');
  });

  it('concurrent callers get disjoint batches that cover every due ticket', async () => {
    await client.query('DELETE FROM agenda_jobs');
    await insertTickets(
      client,
      Array.from({ length: 60 }, () => ({ due: '-1 second' })),
    );
    const repository = backend.repository;
    assert.ok(canLockInBatches(repository));
    const others = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const b = store.createAgendaBackend();
        await b.connect();
        return b;
      }),
    );
    try {
      const got: JobParameters[][] = await Promise.all(
        [backend, ...others].map(async (b, k) => {
          const r = b.repository;
          assert.ok(canLockInBatches(r));
          const mine: JobParameters[] = [];
          for (;;) {
            const batch = await r.lockNextJobs(NAME, new Date(Date.now() + 1000), new Date(Date.now() - 60_000), 7, `caller-${k}`);
            if (batch.length === 0) return mine;
            mine.push(...batch);
          }
        }),
      );
      const all = got.flat().map((j) => String(j._id));
      assert.equal(all.length, 60, 'every ticket locked once');
      assert.equal(new Set(all).size, 60, 'no ticket locked by two callers');
    } finally {
      await Promise.all(others.map((b) => b.disconnect()));
    }
  });
});

describe('checkAgendaInternals', () => {
  it('names every internal a different Agenda lacks', () => {
    const changed = { jobProcessor: { processEvery: 100 } } as unknown as Agenda;
    const backend = { repository: {}, notificationChannel: { publishState: 'not a function' } } as unknown as AgendaBackend;
    const problems = checkAgendaInternals(changed, backend);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /saveJobState.*publishJobNotification.*publishState.*JobProcessor/s);
  });
});

/**
 * A storm of queue fills (what one notification per due ticket causes) against a lock limit of 5: never more than 5
 * tickets locked, no ticket locked and handed back, every ticket run once, and Agenda's state saves skipped.
 */
function stormSuite(kind: string, open: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  describe(`${kind}: coalesced queue filling under a lock limit`, () => {
    it('30 due tickets, 30 concurrent fills, lock limit 5: at most 5 locked, no unlock, each run once', async () => {
      const { store, cleanup } = await open();
      const backend = store.createAgendaBackend();
      // As the scheduler does: the database drop at the end cuts idle connections, which must not become uncaught errors.
      guardBackendErrors(backend, 'storm');
      const agenda = new Agenda({ backend, processEvery: 60_000, lockLimit: 5, maxConcurrency: 5, defaultConcurrency: 5 });
      try {
        await store.migrate();
        await agenda.ready;
        const db = agenda.db;
        const counts = { unlock: 0, saves: 0 };
        const unlockJob = db.unlockJob.bind(db);
        const unlockJobs = db.unlockJobs.bind(db);
        db.unlockJob = (job) => {
          counts.unlock++;
          return unlockJob(job);
        };
        db.unlockJobs = (ids) => {
          counts.unlock += ids.length;
          return unlockJobs(ids);
        };
        const save = db.saveJobState.bind(db);
        db.saveJobState = (job, options) => {
          counts.saves++;
          return save(job, options);
        };
        skipTicketStateSaves(backend, NAME);
        let running = 0;
        let maxRunning = 0;
        const ran = new Map<number, number>();
        agenda.define<{ i: number }>(
          NAME,
          async (job) => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await sleep(40);
            ran.set(job.attrs.data.i, (ran.get(job.attrs.data.i) ?? 0) + 1);
            running--;
            await job.remove();
          },
          { lockLimit: 5, concurrency: 5, lockLifetime: 30_000 },
        );
        for (let i = 0; i < 30; i++)
          await agenda
            .create(NAME, { i })
            .schedule(new Date(Date.now() - 1000))
            .save();
        assert.deepEqual(checkAgendaInternals(agenda, backend), [], 'before start');
        await agenda.start();
        assert.deepEqual(
          checkAgendaInternals(agenda, backend),
          [],
          "Agenda 6.2's internals, the job processor included: the scheduler's patches fit",
        );
        const processor = (
          agenda as unknown as {
            jobProcessor: {
              lockedJobs: unknown[];
              isJobQueueFilling: Map<string, boolean>;
              jobQueueFilling(n: string): Promise<void>;
              jobProcessing(): void;
            };
          }
        ).jobProcessor;
        // Agenda's first poll (its own filling, started by start()) ends before the storm.
        while (processor.isJobQueueFilling.size > 0) await sleep(5);
        assert.ok(installQueueFilling(agenda, backend), 'installed on Agenda 6.2');
        let maxLocked = 0;
        const watch = setInterval(() => (maxLocked = Math.max(maxLocked, processor.lockedJobs.length)), 2);
        const deadline = Date.now() + 20_000;
        try {
          while (ran.size < 30 && Date.now() < deadline) {
            await Promise.all(Array.from({ length: 30 }, () => processor.jobQueueFilling(NAME).then(() => processor.jobProcessing())));
            await sleep(20);
          }
        } finally {
          clearInterval(watch);
        }
        assert.equal(ran.size, 30, `all 30 tickets ran (${ran.size})`);
        assert.ok(
          [...ran.values()].every((n) => n === 1),
          'each exactly once',
        );
        assert.ok(maxLocked <= 5, `locked at most the limit (${maxLocked})`);
        assert.ok(maxRunning <= 5);
        assert.equal(counts.unlock, 0, 'no ticket was locked over the limit and handed back');
        // Agenda's own start/end saves (60) skipped.
        assert.equal(counts.saves, 0, `no state saves of tickets (${counts.saves})`);
      } finally {
        await agenda.stop().catch(() => undefined);
        await cleanup();
      }
    });
  });
}

stormSuite('postgres', async () => {
  const db = await startTestPostgres();
  const store = await createPostgresStore(db.url, 'postgres (test)');
  return {
    store,
    async cleanup() {
      await store.close();
      await db.stop();
    },
  };
});

stormSuite('mongodb', async () => {
  const mongo = await startTestMongo();
  const store = await createMongoStore(mongo.url);
  return {
    store,
    async cleanup() {
      await store.close();
      await mongo.stop();
    },
  };
});
