import 'server-only';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

/**
 * A private PostgreSQL cluster run from Debian's binaries (postgresql-15 package): used for the
 * zero-configuration embedded database and for tests. Never touches the system cluster or /var/run.
 */
export interface ClusterOptions {
  /** PGDATA; created by initdb when it holds no cluster yet. */
  dataDir: string;
  port: number;
  /** Superuser created by initdb. */
  superuser: string;
  /** With a password: scram-sha-256 on 127.0.0.1. Without: trust (tests only). */
  password?: string;
  /** Extra `-c name=value` server settings (e.g. fsync=off for throwaway test clusters). */
  settings?: Record<string, string>;
}

const UNPRIVILEGED_USER = 'postgres';

/** Newest installed major version's bindir, e.g. /usr/lib/postgresql/15/bin. PG_BINDIR overrides. */
export function findPgBinDir(): string {
  const fromEnv = process.env.PG_BINDIR?.trim();
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  throw new Error(
    'PostgreSQL server binaries not found under /usr/lib/postgresql (install: apt-get install -y postgresql), or set PG_BINDIR',
  );
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

interface Ids {
  uid: number;
  gid: number;
}

/** uid/gid of the unprivileged account PostgreSQL runs as when we are root (it refuses to run as root). */
function serviceIds(): Ids | null {
  if (!isRoot()) return null;
  const out = spawnSync('id', ['-u', UNPRIVILEGED_USER], { encoding: 'utf8' });
  const outG = spawnSync('id', ['-g', UNPRIVILEGED_USER], { encoding: 'utf8' });
  if (out.status !== 0 || outG.status !== 0) {
    throw new Error(
      `running as root, but there is no "${UNPRIVILEGED_USER}" user to run PostgreSQL as (apt-get install -y postgresql creates it)`,
    );
  }
  return { uid: Number(out.stdout.trim()), gid: Number(outG.stdout.trim()) };
}

/** The command line, wrapped in runuser when we are root. */
function asServiceUser(command: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', UNPRIVILEGED_USER, '--', command, ...args]] : [command, args];
}

/** Directory for the unix socket and the server log: next to the data dir, never /var/run. */
export function runDirOf(dataDir: string): string {
  return join(dirname(dataDir), 'run');
}

function logFileOf(dataDir: string): string {
  return join(runDirOf(dataDir), 'postgresql.log');
}

function makeOwnedDir(path: string, mode: number, ids: Ids | null): void {
  mkdirSync(path, { recursive: true, mode });
  if (ids) chownSync(path, ids.uid, ids.gid);
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const [cmd, argv] = asServiceUser(command, args);
  return new Promise((resolve, reject) => {
    // stdio to pipes we drain, so a detached postmaster never holds our terminal.
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function isInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/** Runs initdb when the data dir holds no cluster yet. Returns true when it created one. */
export async function initCluster(opts: ClusterOptions): Promise<boolean> {
  if (isInitialized(opts.dataDir)) return false;
  const ids = serviceIds();
  const parent = dirname(opts.dataDir);
  mkdirSync(parent, { recursive: true });
  makeOwnedDir(opts.dataDir, 0o700, ids);
  makeOwnedDir(runDirOf(opts.dataDir), 0o700, ids);
  const args = ['-D', opts.dataDir, '-U', opts.superuser, '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions'];
  // initdb reads the password from a file; it lives in the run dir (owned by the service user) only while initdb runs.
  const pwfile = join(runDirOf(opts.dataDir), `.initdb-pw-${process.pid}`);
  if (opts.password) {
    writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
    args.push('--auth-local=scram-sha-256', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  } else {
    args.push('--auth=trust');
  }
  try {
    const { code, output } = await run(join(findPgBinDir(), 'initdb'), args, 120_000);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.trim()}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
  return true;
}

/** PID of the postmaster running on this data dir, or null. Reads postmaster.pid and checks the process exists. */
export function runningPid(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists but belongs to another user (the postgres account while we are not root).
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** Port recorded by the running postmaster (line 4 of postmaster.pid). */
export function runningPort(dataDir: string): number | null {
  try {
    const port = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3] ?? '', 10);
    return Number.isInteger(port) ? port : null;
  } catch {
    return null;
  }
}

/** Starts the cluster (pg_ctl -w waits until it accepts connections); a no-op when it already runs. */
export async function startCluster(opts: ClusterOptions, timeoutSeconds = 60): Promise<void> {
  if (runningPid(opts.dataDir) !== null) {
    await waitForPort('127.0.0.1', opts.port, timeoutSeconds * 1000);
    return;
  }
  const ids = serviceIds();
  makeOwnedDir(runDirOf(opts.dataDir), 0o700, ids);
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(opts.port),
    unix_socket_directories: runDirOf(opts.dataDir),
    ...opts.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${quoteOption(v)}`)
    .join(' ');
  const { code, output } = await run(
    join(findPgBinDir(), 'pg_ctl'),
    ['-D', opts.dataDir, '-l', logFileOf(opts.dataDir), '-w', '-t', String(timeoutSeconds), '-o', serverOptions, 'start'],
    (timeoutSeconds + 10) * 1000,
  );
  if (code !== 0) {
    throw new Error(`pg_ctl start failed (exit ${code}): ${output.trim()}\n${tailLog(opts.dataDir)}`);
  }
  await waitForPort('127.0.0.1', opts.port, timeoutSeconds * 1000);
}

function quoteOption(value: string): string {
  return /^[\w./:-]+$/.test(value) ? value : `'${value.replace(/'/g, "''")}'`;
}

function tailLog(dataDir: string): string {
  try {
    return readFileSync(logFileOf(dataDir), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** Stops the cluster. `fast` rolls back open transactions; `immediate` is for throwaway clusters. */
export async function stopCluster(dataDir: string, mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<boolean> {
  if (runningPid(dataDir) === null) return false;
  const { code, output } = await run(join(findPgBinDir(), 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], 70_000);
  if (code !== 0 && runningPid(dataDir) !== null) throw new Error(`pg_ctl stop failed (exit ${code}): ${output.trim()}`);
  return true;
}

/** Synchronous stop, for process 'exit' handlers where nothing async runs any more. */
export function stopClusterSync(dataDir: string, mode: 'fast' | 'immediate' = 'immediate'): void {
  if (runningPid(dataDir) === null) return;
  const [cmd, argv] = asServiceUser(join(findPgBinDir(), 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '20', 'stop']);
  spawnSync(cmd, argv, { stdio: 'ignore', timeout: 30_000 });
}

/** Resolves once a TCP connection to host:port succeeds. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when the path exists and is a directory. */
export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
