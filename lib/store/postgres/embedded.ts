import 'server-only';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { initCluster, isInitialized, runningPid, runningPort, startCluster, stopCluster } from './cluster';
import { logger } from '../../log';

/**
 * The zero-configuration database: a private PostgreSQL cluster under <data dir>/pg, created on first start and
 * shared by every `next start` instance of this checkout. The data dir is CRONPLANE_DATA_DIR (relative to the
 * working directory), default <cwd>/.data: the same place as the generated credentials. It outlives the app (stop it
 * with `npm run db:stop`).
 */
const SUPERUSER = 'cronplane';
const DATABASE = 'cronplane';
const DEFAULT_PORT = 54329;
const LOCK_STALE_MS = 180_000;

export interface EmbeddedPaths {
  baseDir: string;
  dataDir: string;
  passwordFile: string;
  lockFile: string;
}

/** <CRONPLANE_DATA_DIR or cwd/.data>/pg and its companions. */
export function embeddedPaths(cwd = process.cwd(), env: Partial<Record<string, string>> = process.env): EmbeddedPaths {
  const configured = env.CRONPLANE_DATA_DIR?.trim();
  const baseDir = configured ? resolve(cwd, configured) : join(cwd, '.data');
  return {
    baseDir,
    dataDir: join(baseDir, 'pg'),
    passwordFile: join(baseDir, 'pg-password'),
    lockFile: join(baseDir, 'pg.lock'),
  };
}

export function embeddedPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EMBEDDED_PG_PORT?.trim();
  if (!raw) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`EMBEDDED_PG_PORT must be a port number, got "${raw}"`);
  return port;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Exclusive lock file (O_EXCL create) holding our pid: only one process at a time creates/starts the cluster.
 * A lock whose holder died, or that is older than LOCK_STALE_MS, is taken over.
 */
async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    let age = 0;
    try {
      holder = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      age = Date.now() - statSync(lockFile).mtimeMs;
    } catch {
      continue; // released between our attempts
    }
    // An empty file is a holder between open and write: only stale once old.
    if ((Number.isInteger(holder) && !processAlive(holder)) || age > LOCK_STALE_MS) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${lockFile} (held by pid ${holder}); delete it if that process is gone`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function readOrCreatePassword(paths: EmbeddedPaths): string {
  if (existsSync(paths.passwordFile)) return readFileSync(paths.passwordFile, 'utf8').trim();
  if (isInitialized(paths.dataDir)) {
    throw new Error(
      `${paths.passwordFile} is missing, so the embedded cluster in ${paths.dataDir} cannot be opened; delete ${paths.dataDir} to start over (its data is lost)`,
    );
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSync(paths.passwordFile, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Relative to the working directory when inside it (".data/pg"), else absolute. */
function shownPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function urlFor(port: number, password: string, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(port, password, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await client.end();
  }
}

/** Creates, starts or reuses the embedded cluster; returns the app database's URL. Safe to call concurrently. */
export async function ensureEmbeddedPostgres(cwd = process.cwd()): Promise<{ url: string; dataDir: string }> {
  const paths = embeddedPaths(cwd);
  mkdirSync(paths.baseDir, { recursive: true, mode: 0o755 });
  const shownDir = shownPath(cwd, paths.dataDir);
  return withFileLock(paths.lockFile, async () => {
    const password = readOrCreatePassword(paths);
    let port = embeddedPort();
    if (runningPid(paths.dataDir) !== null) {
      // Started by another instance (maybe with another EMBEDDED_PG_PORT): use the port it listens on.
      port = runningPort(paths.dataDir) ?? port;
    } else {
      const options = { dataDir: paths.dataDir, port, superuser: SUPERUSER, password };
      if (await initCluster(options)) logger('db').info(`created the embedded PostgreSQL cluster in ${shownDir}`);
      try {
        await startCluster(options);
      } catch (err) {
        throw new Error(
          `could not start the embedded PostgreSQL on 127.0.0.1:${port} (set EMBEDDED_PG_PORT to use another port, or DATABASE_URL for your own server): ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      logger('db').info(
        `embedded PostgreSQL started on 127.0.0.1:${port} (data in ${shownDir}); it keeps running after the app exits: stop it with \`npm run db:stop\``,
      );
    }
    await ensureDatabase(port, password);
    return { url: urlFor(port, password, DATABASE), dataDir: shownDir };
  });
}

export interface EmbeddedStatus {
  dataDir: string;
  initialized: boolean;
  pid: number | null;
  port: number | null;
}

export function embeddedStatus(cwd = process.cwd()): EmbeddedStatus {
  const { dataDir } = embeddedPaths(cwd);
  const pid = runningPid(dataDir);
  return { dataDir, initialized: isInitialized(dataDir), pid, port: pid === null ? null : runningPort(dataDir) };
}

/** Stops the embedded cluster (fast shutdown). False when it was not running. */
export async function stopEmbeddedPostgres(cwd = process.cwd()): Promise<boolean> {
  const paths = embeddedPaths(cwd);
  return withFileLock(paths.lockFile, () => stopCluster(paths.dataDir, 'fast'));
}
