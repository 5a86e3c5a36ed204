/**
 * A MongoDB-wire server for tests: `startTestMongo()` gives a FRESH empty database each call.
 * - MONGODB_URL set: the databases are created on that server (a real mongod, say), one new name per call.
 * - otherwise: one in-memory mongo-java-server per test process (tools/mongo-test-server, Java 17), started lazily
 *   on a port the OS picks, killed by PID when the process exits. It also stops by itself when its stdin pipe
 *   closes, so a test process killed with SIGKILL does not leave it behind.
 * No real mongod can run on our machines (docs: platform notes); see tools/mongo-test-server/README.md for what the
 * stand-in does differently from MongoDB.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

export interface TestMongo {
  /** mongodb:// URL of a new, empty database. */
  url: string;
  /** Drops the database. */
  stop(): Promise<void>;
}

const TOOL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'mongo-test-server');
const JAR = join(TOOL_DIR, 'target', 'mongo-test-server.jar');
const START_TIMEOUT_MS = 60_000;

let server: Promise<string> | null = null;

async function ensureJar(): Promise<void> {
  if (existsSync(JAR)) return;
  // build.sh skips when built and takes a lock, so parallel test processes build it once.
  await promisify(execFile)('bash', [join(TOOL_DIR, 'build.sh')], { timeout: 600_000 });
}

function java(): string {
  const home = process.env.JAVA_HOME?.trim();
  return home ? join(home, 'bin', 'java') : 'java';
}

async function startServer(): Promise<string> {
  await ensureJar();
  const child: ChildProcess = spawn(
    java(),
    // Small heap and C1 only: a test server wants a fast start, not peak throughput.
    ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-jar', JAR, '--host', '127.0.0.1', '--port', '0', '--exit-on-stdin-eof'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const pid = child.pid;
  const kill = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    // Keep only the tail: enough to explain a failed start.
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`mongo-test-server did not print READY within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      kill();
      reject(new Error(`${err.message}\n${stderr}`));
    };
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`mongo-test-server exited early (code ${code}, signal ${signal})`)));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const ready = /^READY (mongodb:\/\/\S+)/m.exec(stdout);
      if (!ready) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve(ready[1]!);
    });
  });
  // The server lives as long as this process, but must not keep it alive: unref the child and its pipes.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return url;
}

function serverUrl(): Promise<string> {
  const fromEnv = process.env.MONGODB_URL?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  server ??= startServer().catch((err: unknown) => {
    server = null;
    throw err;
  });
  return server;
}

/** `base` with its database path replaced by `database` (credentials and options kept). */
function withDatabase(base: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/i.exec(base);
  if (!match) throw new Error(`not a mongodb:// URL: ${base}`);
  return `${match[1]}/${database}${match[2]}`;
}

export async function startTestMongo(): Promise<TestMongo> {
  const base = await serverUrl();
  const database = `test_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(base, database);
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
      try {
        await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}
