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

/** The replica-set name the second test server reports (`startTestMongo({ replicaSet: true })`). */
export const TEST_REPLICA_SET = 'rs0';

let server: Promise<string> | null = null;
let replicaSetServer: Promise<string> | null = null;

let built: Promise<unknown> | null = null;

async function ensureJar(): Promise<void> {
  // build.sh is a no-op when the jar is newer than every source (so a jar older than the launcher's options is rebuilt,
  // not started with arguments it does not know) and takes a lock, so parallel test processes build it once.
  built ??= promisify(execFile)('bash', [join(TOOL_DIR, 'build.sh')], { timeout: 600_000 }).catch((err: unknown) => {
    built = null;
    // No Maven here, but a jar: use it (npm test builds it first).
    if (!existsSync(JAR)) throw err;
  });
  await built;
}

function java(): string {
  const home = process.env.JAVA_HOME?.trim();
  return home ? join(home, 'bin', 'java') : 'java';
}

async function startServer(extraArgs: string[] = []): Promise<string> {
  await ensureJar();
  const child: ChildProcess = spawn(
    java(),
    // Small heap and C1 only: a test server wants a fast start, not peak throughput.
    [
      '-Xmx512m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-jar',
      JAR,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--exit-on-stdin-eof',
      ...extraArgs,
    ],
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
    const timer = setTimeout(
      () => fail(new Error(`mongo-test-server did not print READY within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
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

function serverUrl(replicaSet: boolean): Promise<string> {
  const fromEnv = process.env.MONGODB_URL?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  if (replicaSet) {
    replicaSetServer ??= startServer(['--replica-set', TEST_REPLICA_SET]).then(
      (url) => `${url}/?replicaSet=${TEST_REPLICA_SET}`,
      (err: unknown) => {
        replicaSetServer = null;
        throw err;
      },
    );
    return replicaSetServer;
  }
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

export interface TestMongoOptions {
  /**
   * On the test server: a second instance (one per test process) started with `--oplog --replica-set rs0`, which
   * reports itself as the primary of a one-member replica set and serves change streams (tools/mongo-test-server).
   * Ignored with MONGODB_URL: that server is what it is; ask `offersChangeStreams()`.
   */
  replicaSet?: boolean;
}

export async function startTestMongo(options: TestMongoOptions = {}): Promise<TestMongo> {
  const base = await serverUrl(options.replicaSet === true);
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

/**
 * Whether the server behind `url` offers change streams, judged as the app's scheduler judges it: a replica-set member
 * (`setName`) or a mongos (`msg: 'isdbgrid'`), asked with `hello` and, on servers without it, `isMaster`.
 */
export async function offersChangeStreams(url: string): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  try {
    const admin = client.db().admin();
    const reply = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
    return typeof reply.setName === 'string' || reply.msg === 'isdbgrid';
  } finally {
    await client.close();
  }
}
