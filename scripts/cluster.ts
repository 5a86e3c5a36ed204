/**
 * `npm run cluster -- --instances 3 [--base-port 3100] [--database-url URL]`
 *
 * Starts N `next start` processes from the existing build (NEXT_DIST_DIR, default .next) on 127.0.0.1,
 * ports base..base+N-1, all against one database: --database-url, else DATABASE_URL, else the embedded
 * cluster (started once here, before the instances, so they do not race to create it). Each instance gets
 * INSTANCE_ID cluster-<i>, and its output is prefixed with that id. Ctrl-C / SIGTERM stops them all:
 * SIGTERM to each PID, wait, SIGKILL after a bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const STOP_GRACE_MS = 30_000;

function usage(message: string): never {
  console.error(`cluster: ${message}\nusage: npm run cluster -- --instances N [--base-port 3100] [--database-url URL]`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    instances: { type: 'string', short: 'n', default: '3' },
    'base-port': { type: 'string', default: '3100' },
    'database-url': { type: 'string' },
  },
  strict: true,
});

const instances = Number(values.instances);
const basePort = Number(values['base-port']);
if (!Number.isInteger(instances) || instances < 1 || instances > 32) usage('--instances must be an integer from 1 to 32');
if (!Number.isInteger(basePort) || basePort < 1 || basePort + instances - 1 > 65535) usage('--base-port must be a port number');

const distDir = process.env.NEXT_DIST_DIR?.trim() || '.next';
if (!existsSync(join(distDir, 'BUILD_ID'))) usage(`no build in ${distDir}: run \`npm run build\` first (or set NEXT_DIST_DIR)`);

async function databaseUrl(): Promise<string> {
  const given = values['database-url']?.trim() || process.env.DATABASE_URL?.trim();
  if (given) return given;
  const { ensureEmbeddedPostgres } = await import('../lib/store/postgres/embedded');
  const { url, dataDir } = await ensureEmbeddedPostgres();
  console.log(`[cluster] using the embedded PostgreSQL in ${dataDir}`);
  return url;
}

/** Prefixes every complete line of a stream with the instance id (a partial last line waits for its end). */
function prefixLines(stream: NodeJS.ReadableStream, id: string, out: NodeJS.WritableStream): void {
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) out.write(`[${id}] ${line}\n`);
  });
  stream.on('end', () => {
    if (pending) out.write(`[${id}] ${pending}\n`);
  });
}

interface Instance {
  id: string;
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

const url = await databaseUrl();
// Every instance must decrypt what another saved: one key for all, unless the operator set one.
const secretsKey = process.env.SECRETS_KEY?.trim() || randomBytes(32).toString('base64');
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const running: Instance[] = [];
let stopping = false;

for (let i = 1; i <= instances; i++) {
  const id = `cluster-${i}`;
  const port = basePort + i - 1;
  // node itself (not the npx/.bin shell wrapper), so the PID we signal is the server's.
  const child = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    env: {
      ...process.env,
      NEXT_DIST_DIR: distDir,
      NEXT_TELEMETRY_DISABLED: '1',
      DATABASE_URL: url,
      INSTANCE_ID: id,
      SECRETS_KEY: secretsKey,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prefixLines(child.stdout!, id, process.stdout);
  prefixLines(child.stderr!, id, process.stderr);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      console.log(`[cluster] ${id} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
      // One instance dying is worth knowing about but the others keep serving; the script ends when all are gone.
      resolve();
    }),
  );
  running.push({ id, port, child, exited });
  console.log(`[cluster] ${id}: pid ${child.pid}, http://127.0.0.1:${port}`);
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopAll(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[cluster] ${signal}: stopping ${running.filter((r) => alive(r.child)).length} instance(s)`);
  for (const r of running) if (alive(r.child) && r.child.pid) process.kill(r.child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    for (const r of running) {
      if (alive(r.child) && r.child.pid) {
        console.log(`[cluster] ${r.id} still running after ${STOP_GRACE_MS} ms: SIGKILL`);
        process.kill(r.child.pid, 'SIGKILL');
      }
    }
  }, STOP_GRACE_MS);
  await Promise.all(running.map((r) => r.exited));
  clearTimeout(timer);
}

// Ctrl-C in a terminal also reaches the children (same process group); they stop gracefully on their own
// SIGINT handler, and we still send SIGTERM by PID so a detached run behaves the same.
process.on('SIGINT', () => void stopAll('SIGINT').then(() => process.exit(130)));
process.on('SIGTERM', () => void stopAll('SIGTERM').then(() => process.exit(143)));

await Promise.all(running.map((r) => r.exited));
if (!stopping) {
  console.log('[cluster] every instance exited');
  process.exit(1);
}
