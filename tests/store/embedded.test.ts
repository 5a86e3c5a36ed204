/** The zero-configuration embedded cluster: created once, shared by concurrent callers, password-protected. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { stopClusterSync } from '../../lib/store/postgres/cluster';
import { embeddedPaths, embeddedStatus, ensureEmbeddedPostgres, stopEmbeddedPostgres } from '../../lib/store/postgres/embedded';
import { freePort } from '../support/postgres';

describe('embedded PostgreSQL', { timeout: 120_000 }, () => {
  const cwd = mkdtempSync(join(tmpdir(), 'cronplane-embedded-'));
  chmodSync(cwd, 0o755); // the postgres account must reach .data/pg inside
  after(() => {
    stopClusterSync(embeddedPaths(cwd).dataDir, 'immediate');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('creates the cluster once when two callers race, and both get the same working URL', async () => {
    process.env.EMBEDDED_PG_PORT = String(await freePort());
    const [a, b] = await Promise.all([ensureEmbeddedPostgres(cwd), ensureEmbeddedPostgres(cwd)]);
    assert.equal(a.url, b.url);
    assert.equal(a.dataDir, join('.data', 'pg'));
    const url = new URL(a.url);
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.port, process.env.EMBEDDED_PG_PORT);
    assert.ok(url.password.length >= 20, 'a generated password');
    const client = new pg.Client({ connectionString: a.url });
    await client.connect();
    const { rows } = await client.query<{ db: string; listen: string }>(
      "SELECT current_database() AS db, current_setting('listen_addresses') AS listen",
    );
    await client.end();
    assert.deepEqual(rows[0], { db: 'cronplane', listen: '127.0.0.1' });
    assert.equal(statSync(embeddedPaths(cwd).passwordFile).mode & 0o777, 0o600);
  });

  it('refuses a wrong password (scram), and is reused, not restarted, by a later caller', async () => {
    const first = embeddedStatus(cwd);
    assert.ok(first.pid !== null);
    const { url } = await ensureEmbeddedPostgres(cwd);
    assert.equal(embeddedStatus(cwd).pid, first.pid, 'same postmaster');
    const wrong = new URL(url);
    wrong.password = 'wrong';
    const client = new pg.Client({ connectionString: wrong.toString() });
    await assert.rejects(client.connect(), /password authentication failed/);
  });

  it('stops, and starts again with its data', async () => {
    const { url } = await ensureEmbeddedPostgres(cwd);
    let client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS kept (v int)');
    await client.query('INSERT INTO kept VALUES (42)');
    await client.end();
    assert.equal(await stopEmbeddedPostgres(cwd), true);
    assert.equal(embeddedStatus(cwd).pid, null);
    assert.equal(await stopEmbeddedPostgres(cwd), false);
    const again = await ensureEmbeddedPostgres(cwd);
    assert.equal(again.url, url);
    client = new pg.Client({ connectionString: again.url });
    await client.connect();
    const { rows } = await client.query<{ v: number }>('SELECT v FROM kept');
    await client.end();
    assert.deepEqual(rows, [{ v: 42 }]);
  });
});
