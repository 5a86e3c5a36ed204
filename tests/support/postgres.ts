/**
 * Real PostgreSQL for tests: `startTestPostgres()` gives a FRESH empty database each call.
 * - TEST_POSTGRES_URL set: the database is created on that server (its user needs CREATEDB).
 * - otherwise: one private throwaway cluster per test process (Debian's PostgreSQL binaries), started lazily
 *   on a free port in a temp dir, stopped and removed when the process exits.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { initCluster, runningPid, startCluster, stopCluster, stopClusterSync } from '../../lib/store/postgres/cluster';

export interface TestPostgres {
  /** postgres:// URL of a new, empty database. */
  url: string;
  /** Drops the database. */
  stop(): Promise<void>;
}

const DIR_PREFIX = 'cronplane-testpg-';
const SUPERUSER = 'cronplane';

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Clusters left behind by test processes that were killed (no exit handler ran): stop and delete them. */
function reapOrphans(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const base = join(tmpdir(), entry);
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(join(base, 'owner.pid'), 'utf8'), 10);
    } catch {
      continue; // being set up right now by another process
    }
    if (Number.isInteger(owner) && processAlive(owner)) continue;
    try {
      stopClusterSync(join(base, 'data'), 'immediate');
      rmSync(base, { recursive: true, force: true });
    } catch {
      // best effort: another process may be reaping the same dir
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let serverUrl: Promise<string> | null = null;
/** The private cluster of this process, once started (for restartTestPostgresServer). */
let privateCluster: { dataDir: string; port: number; settings: Record<string, string> } | null = null;

async function startPrivateCluster(): Promise<string> {
  reapOrphans();
  const base = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  // mkdtemp makes it 0700; the postgres account must be able to reach the data dir inside.
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const cleanup = (): void => {
    stopClusterSync(dataDir, 'immediate');
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  await initCluster({ dataDir, port: 0, superuser: SUPERUSER });
  // Durability is pointless for a throwaway cluster; this keeps test runs fast.
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' };
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await startCluster({ dataDir, port, superuser: SUPERUSER, settings }, 30);
      writeFileSync(join(base, 'owner.pid'), String(process.pid));
      privateCluster = { dataDir, port, settings };
      return `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
    } catch (err) {
      // Another process may have taken the port between freePort() and the server's bind.
      if (attempt >= 3 || runningPid(dataDir) !== null) throw err;
    }
  }
}

function adminUrl(): Promise<string> {
  const fromEnv = process.env.TEST_POSTGRES_URL?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  serverUrl ??= startPrivateCluster().catch((err: unknown) => {
    serverUrl = null;
    throw err;
  });
  return serverUrl;
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const admin = await adminUrl();
  const database = `test_${randomBytes(6).toString('hex')}`;
  await withAdmin(admin, (c) => c.query(`CREATE DATABASE "${database}"`));
  const url = new URL(admin);
  url.pathname = `/${database}`;
  let stopped = false;
  return {
    url: url.toString(),
    async stop() {
      if (stopped) return;
      stopped = true;
      // FORCE ends connections a test left open (PostgreSQL 13+).
      await withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    },
  };
}

/**
 * Stops this process's private PostgreSQL server (fast shutdown: sessions are cut off), waits `downMs`, and starts it
 * again on the same port with the same data: a database outage for the scheduler tests. Only for the private cluster
 * (not with TEST_POSTGRES_URL). Resolves once the server accepts connections again.
 */
export async function restartTestPostgresServer(downMs: number): Promise<{ downAt: Date; upAt: Date }> {
  if (!privateCluster)
    throw new Error('restartTestPostgresServer needs the private cluster (TEST_POSTGRES_URL unset, startTestPostgres() called)');
  const { dataDir, port, settings } = privateCluster;
  await stopCluster(dataDir, 'fast');
  const downAt = new Date();
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await startCluster({ dataDir, port, superuser: SUPERUSER, settings }, 30);
  return { downAt, upAt: new Date() };
}
