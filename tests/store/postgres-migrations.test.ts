/** PostgreSQL-only checks: migrations stay compatible with the Prisma CLI, Agenda's table is provisioned. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { createPostgresStore } from '../../lib/store/postgres';
import { migrateDatabase, migrationsDir } from '../../lib/store/postgres/migrate';
import type { Store } from '../../lib/store/types';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const run = promisify(execFile);

describe('postgres migrations', { timeout: 120_000 }, () => {
  let db: TestPostgres;
  let store: Store;
  let client: pg.Client;
  before(async () => {
    db = await startTestPostgres();
    store = await createPostgresStore(db.url, 'postgres (test)');
    await store.migrate();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await store?.close();
    await db?.stop();
  });

  it('records every migration in _prisma_migrations the way Prisma does (sha256 of migration.sql)', async () => {
    const dir = migrationsDir();
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    assert.ok(files.length > 0);
    const { rows } = await client.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      applied_steps_count: number;
    }>('SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name');
    assert.deepEqual(
      rows.map((r) => r.migration_name),
      files,
    );
    for (const r of rows) {
      const sql = readFileSync(join(dir, r.migration_name, 'migration.sql'));
      assert.equal(r.checksum, createHash('sha256').update(sql).digest('hex'));
      assert.ok(r.finished_at instanceof Date);
      assert.equal(r.applied_steps_count, 1);
    }
  });

  it('`prisma migrate status` agrees that the database is up to date', async () => {
    const { stdout } = await run(join(process.cwd(), 'node_modules/.bin/prisma'), ['migrate', 'status'], {
      env: { ...process.env, DATABASE_URL: db.url },
      timeout: 60_000,
    });
    assert.match(stdout, /Database schema is up to date/);
  });

  it('keeps runs when their job is deleted (no foreign key) and enforces one run per occurrence', async () => {
    const { rows } = await client.query<{ conname: string; contype: string }>(
      "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'runs'::regclass AND contype = 'f'",
    );
    assert.deepEqual(rows, []);
    const idx = await client.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'runs'",
    );
    const unique = idx.rows.find((r) => r.indexname === 'runs_job_occurrence_key');
    assert.match(unique?.indexdef ?? '', /UNIQUE INDEX .* \(job_id, scheduled_for\)/);
  });

  it('upgrades a database holding data from the first migration: job defaults, run names backfilled for jobSearch', async () => {
    const old = await startTestPostgres();
    const onlyInit = mkdtempSync(join(tmpdir(), 'cronplane-migrations-'));
    const first = readdirSync(migrationsDir())
      .filter((n) => !n.endsWith('.toml'))
      .sort()[0]!;
    cpSync(join(migrationsDir(), first), join(onlyInit, first), { recursive: true });
    const c = new pg.Client({ connectionString: old.url });
    let upgraded: Store | undefined;
    try {
      await migrateDatabase(old.url, onlyInit);
      await c.connect();
      const jobId = '00000000-0000-4000-8000-000000000001';
      await c.query(
        `INSERT INTO jobs (id, name, type, schedule, timeout_seconds, overlap_policy, missed_policy, anchor_at, updated_at)
         VALUES ($1, 'legacy report', 'log', '{"kind":"interval","seconds":60}', 30, 'skip', 'run-once', now(), now())`,
        [jobId],
      );
      await c.query(
        `INSERT INTO runs (id, job_id, job_name, scheduled_for, status, trigger) VALUES
         ('00000000-0000-4000-8000-0000000000a1', $1, 'legacy report (old name)', '2030-01-01Z', 'succeeded', 'schedule'),
         ('00000000-0000-4000-8000-0000000000a2', $1, 'legacy report', '2030-01-02Z', 'succeeded', 'schedule')`,
        [jobId],
      );
      upgraded = await createPostgresStore(old.url, 'postgres (test)');
      await upgraded.migrate();
      const job = await upgraded.getJob(jobId);
      assert.deepEqual(job?.retry, { maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 });
      assert.equal(job?.concurrencyLimit, null);
      assert.equal(job?.autoPause, null, 'jobs from before auto-pause are never auto-paused');
      await upgraded.deleteJob(jobId);
      const page = await upgraded.listRuns({ limit: 10, jobSearch: '(OLD NAME)' });
      assert.deepEqual(
        page.items.map((r) => r.id),
        ['00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a1'],
      );
    } finally {
      await c.end();
      await upgraded?.close();
      await old.stop();
      rmSync(onlyInit, { recursive: true, force: true });
    }
  });

  it("provisions Agenda's table, and the backend connects without creating schema itself", async () => {
    const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('public.agenda_jobs')::text AS t");
    assert.equal(rows[0]?.t, 'agenda_jobs');
    const backend = store.createAgendaBackend();
    await backend.connect();
    await backend.disconnect();
  });
});
