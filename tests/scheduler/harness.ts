/** Helpers for the multi-process scheduler tests: worker processes, a local HTTP target, polling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Run, Store } from '../../lib/store/types';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('../support/worker.ts', import.meta.url));

export interface Worker {
  instanceId: string;
  child: ChildProcess;
  /** Everything the worker wrote, for failure messages. */
  logs(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Settings that make the tests quick (short lock/lease so a killed worker's work comes back fast), let http
 * jobs call the local test target, and give every process of a test the same secrets key.
 */
export const FAST_ENV = {
  HTTP_JOB_ALLOW: '127.0.0.1',
  SECRETS_KEY: randomBytes(32).toString('base64'),
  SCHEDULER_PROCESS_EVERY_MS: '200',
  SCHEDULER_LOCK_LIFETIME_MS: '3000',
  SCHEDULER_HEARTBEAT_MS: '500',
  SCHEDULER_SWEEP_MS: '500',
  SCHEDULER_MISSED_GRACE_MS: '3000',
  SHUTDOWN_GRACE_SECONDS: '10',
};

/** The test process itself creates jobs through the services: it needs the same settings as its workers. */
export function useTestEnv(databaseUrl: string): void {
  Object.assign(process.env, FAST_ENV, { DATABASE_URL: databaseUrl });
}

export async function startWorker(databaseUrl: string, instanceId: string, env: Record<string, string> = {}): Promise<Worker> {
  const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, ...FAST_ENV, ...env, DATABASE_URL: databaseUrl, INSTANCE_ID: instanceId, NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (output.includes(`READY ${instanceId}`)) resolve(true);
      };
      child.stdout!.on('data', check);
      check();
    }),
    exited.then(() => false),
    delay(30_000).then(() => false),
  ]);
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`worker ${instanceId} did not start:\n${output}`);
  }
  return { instanceId, child, logs: () => output, exited };
}

/** Signals the worker and waits (bounded) for it to exit. */
export async function stopWorker(worker: Worker, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  const result = await Promise.race([worker.exited, delay(timeoutMs).then(() => null)]);
  if (process.env.SHOW_WORKER_LOGS) console.log(`--- ${worker.instanceId}\n${worker.logs()}`);
  if (!result) {
    worker.child.kill('SIGKILL');
    throw new Error(`worker ${worker.instanceId} did not exit within ${timeoutMs} ms after ${signal}:\n${worker.logs()}`);
  }
  return result;
}

/** Claimed (waiting for its due time) or running: not settled yet. */
export function inFlight(run: Pick<Run, 'status'>): boolean {
  return run.status === 'claimed' || run.status === 'running';
}

/** The runs without the last one if the pause at the end closed it (claimed, not started yet: skipped, never run). */
export function ranBeforePause(runs: Run[]): Run[] {
  const last = runs.at(-1);
  return last && last.status === 'skipped' && /paused before this occurrence started/.test(last.error ?? '') ? runs.slice(0, -1) : runs;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `fn` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}

export interface HttpTarget {
  url: string;
  /** Requests per path + query string. */
  hits: Map<string, number>;
  /** The Authorization header of the last request, per path. */
  authorization: Map<string, string | undefined>;
  /** Every request: path + query, when it arrived and when it ended (answered or its connection dropped). */
  requests: Array<{ path: string; start: number; end: number | null }>;
  close(): Promise<void>;
}

/** /ok -> 200 "pong-body", /fail -> 503, /slow?ms=N -> 200 after N ms, /flaky?key=K&fail=N -> 500 for the first N calls of K, then 200. */
export async function startHttpTarget(): Promise<HttpTarget> {
  const hits = new Map<string, number>();
  const authorization = new Map<string, string | undefined>();
  const requests: HttpTarget['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record: HttpTarget['requests'][number] = { path: url.pathname + url.search, start: Date.now(), end: null };
    requests.push(record);
    res.on('close', () => (record.end = Date.now()));
    hits.set(url.pathname + url.search, (hits.get(url.pathname + url.search) ?? 0) + 1);
    authorization.set(url.pathname, req.headers.authorization);
    if (url.pathname === '/ok') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('pong-body');
    } else if (url.pathname === '/fail') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
    } else if (url.pathname === '/flaky') {
      const calls = hits.get(url.pathname + url.search)!;
      if (calls <= Number(url.searchParams.get('fail') ?? '1')) res.writeHead(500).end(`flaky failure ${calls}`);
      else res.writeHead(200).end('flaky-ok');
    } else if (url.pathname === '/slow') {
      const timer = setTimeout(() => res.writeHead(200).end('slow-done'), Number(url.searchParams.get('ms') ?? '5000'));
      res.on('close', () => clearTimeout(timer));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    authorization,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What the two-worker scheduler test files share: a fresh PostgreSQL, this process's store and job services on
 * it (imported after DATABASE_URL is set), a local HTTP target and real worker processes. close() undoes it all.
 */
/** Every run of a job (all pages), oldest occurrence first. */
export async function allRuns(store: Store, jobId: string): Promise<Run[]> {
  const runs: Run[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({ jobId, limit: 200, cursor });
    runs.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return runs.sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());
}

export interface SchedulerWorld {
  /** The fresh database (PostgreSQL unless startSchedulerWorld was given another starter). */
  db: TestPostgres;
  store: Store;
  services: typeof import('../../lib/services/jobs');
  http: HttpTarget;
  /** The started workers; tests may push more, and close() kills those too. */
  workers: Worker[];
  /** Every run of the job (all pages), oldest occurrence first. */
  runsOf(jobId: string): Promise<Run[]>;
  close(): Promise<void>;
}

/**
 * What the test process itself holds of a fresh database: the store and the job services (as the dashboard uses
 * them). `start` makes the database: PostgreSQL by default, startTestMongo for the MongoDB store (same shape).
 */
export interface TestServices {
  db: TestPostgres;
  store: Store;
  services: typeof import('../../lib/services/jobs');
  /** Closes the dispatch client and the store, forgets the process-wide store, and drops the database. */
  close(): Promise<void>;
}

export async function openTestServices(start: () => Promise<TestPostgres> = startTestPostgres): Promise<TestServices> {
  const db = await start();
  useTestEnv(db.url);
  const { getStore } = await import('../../lib/store');
  const store = await getStore();
  const services = await import('../../lib/services/jobs');
  const { closeDispatchClient } = await import('../../lib/scheduler/dispatch');
  return {
    db,
    store,
    services,
    async close() {
      await closeDispatchClient();
      await store.close();
      // A later suite in this process opens its own store (another DATABASE_URL): forget the process-wide one.
      delete (globalThis as Record<symbol, unknown>)[Symbol.for('cronplane.store')];
      await db.stop();
    },
  };
}

export async function startSchedulerWorld(
  instanceIds: string[],
  env: Record<string, string> = {},
  start: () => Promise<TestPostgres> = startTestPostgres,
): Promise<SchedulerWorld> {
  const base = await openTestServices(start);
  const http = await startHttpTarget();
  const workers = await Promise.all(instanceIds.map((id) => startWorker(base.db.url, id, env)));
  return {
    db: base.db,
    store: base.store,
    services: base.services,
    http,
    workers,
    runsOf: (jobId) => allRuns(base.store, jobId),
    async close() {
      await Promise.allSettled(workers.map((w) => stopWorker(w, 'SIGKILL', 5_000)));
      await http.close();
      await base.close();
    },
  };
}
