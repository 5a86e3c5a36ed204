/**
 * The example receiver (examples/fastapi-receiver: FastAPI, the official standardwebhooks Python library, SQLite) under
 * `uvicorn --workers N` as a child process group, and deliveries signed by Cronplane's own functions (lib/jobs/http.ts
 * signedHeaders and deliveryHeaders, over the standardwebhooks npm package). Needs the receiver's virtualenv: `bash scripts/prereqs.sh python` (npm test runs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deliveryHeaders, signedHeaders } from '../../lib/jobs/http';
import { newSigningSecret } from '../../lib/secrets/signing';
import { freePort } from './postgres';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const FASTAPI_RECEIVER_DIR = join(ROOT, 'examples', 'fastapi-receiver');
const PYTHON = join(FASTAPI_RECEIVER_DIR, '.venv', 'bin', 'python');
const LOG_LIMIT = 200_000;

/** One occurrence the receiver applied (a row of its `occurrences` table, unique on webhook_id). */
export interface AppliedOccurrence {
  id: number;
  webhook_id: string;
  job_id: string | null;
  /** Decoded from the header's percent-encoding. */
  job_name: string | null;
  scheduled_for: string | null;
  /** The attempt that applied it. */
  attempt: number | null;
  trigger: string | null;
  run_id: string | null;
  received_at: string;
  /** The uvicorn worker process that applied it. */
  worker_pid: number;
  /** Verified deliveries of this webhook-id so far (the first one and every repeat). */
  deliveries: number;
}

/** One request that reached a delivery route (a row of its `deliveries` table). */
export interface ReceivedDelivery {
  id: number;
  received_at: string;
  worker_pid: number;
  method: string;
  path: string;
  webhook_id: string | null;
  idempotency_key: string | null;
  run_id: string | null;
  attempt: number | null;
  trigger: string | null;
  outcome: 'applied' | 'duplicate' | 'rejected';
  /** Why the official library refused it (outcome 'rejected'). */
  reason: string | null;
}

export interface FastapiReceiver {
  /** http://127.0.0.1:PORT */
  url: string;
  /** uvicorn's parent process, leader of the process group the workers belong to. */
  pid: number;
  /** The worker processes alive now (children of `pid` running the app; not multiprocessing's resource tracker). */
  workerPids(): number[];
  appliedOccurrences(): Promise<AppliedOccurrence[]>;
  deliveries(): Promise<ReceivedDelivery[]>;
  /** What uvicorn printed so far (stdout and stderr), for failure messages. */
  logs(): string;
  /** SIGTERM to the whole process group, SIGKILL after 10 s; resolves once no process of the group is left. */
  stop(): Promise<void>;
}

export interface StartFastapiReceiverOptions {
  /** whsec_ secrets the receiver accepts (several while a rotation is under way). */
  secrets: string[];
  /** The SQLite file (created when missing). */
  dbPath: string;
  /** Default 4. */
  workers?: number;
  /** Default: a free one. */
  port?: number;
  /** How long to wait for every worker to finish its start-up. Default 60 s. */
  readyTimeoutMs?: number;
}

/** A signing secret in Cronplane's format (whsec_ + base64 of 32 random bytes), as Cronplane makes them. */
export const generateSigningSecret = newSigningSecret;

const running = new Set<number>();
let exitHookInstalled = false;

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** A test process that dies must not leave receivers behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of running) signalGroup(pgid, 'SIGKILL');
  });
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function isWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawn_main');
  } catch {
    return false;
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

async function startOnce(options: StartFastapiReceiverOptions, port: number): Promise<FastapiReceiver> {
  const workers = options.workers ?? 4;
  installExitHook();
  // python -m uvicorn rather than .venv/bin/uvicorn, whose #! line names the path the venv was made at.
  const child = spawn(PYTHON, ['-m', 'uvicorn', 'app:app', '--workers', String(workers), '--host', '127.0.0.1', '--port', String(port)], {
    cwd: FASTAPI_RECEIVER_DIR,
    env: {
      ...process.env,
      CRONPLANE_SIGNING_SECRETS: options.secrets.join(' '),
      RECEIVER_DB: options.dbPath,
      PYTHONUNBUFFERED: '1',
      // No __pycache__ in the checkout.
      PYTHONDONTWRITEBYTECODE: '1',
    },
    // Its own process group: stop() signals uvicorn's parent and every worker at once.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${PYTHON} -m uvicorn`);
  running.add(pid);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const url = `http://127.0.0.1:${port}`;
  const receiver: FastapiReceiver = {
    url,
    pid,
    workerPids: () => childrenOf(pid).filter(isWorker),
    appliedOccurrences: async () => (await getJson<{ occurrences: AppliedOccurrence[] }>(`${url}/occurrences`)).occurrences,
    deliveries: async () => (await getJson<{ deliveries: ReceivedDelivery[] }>(`${url}/deliveries`)).deliveries,
    logs: () => output,
    async stop() {
      if (!groupAlive(pid)) return;
      signalGroup(pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
      await exited(child);
      while (groupAlive(pid)) await new Promise((r) => setTimeout(r, 50));
      running.delete(pid);
    },
  };

  // Ready when every worker has run its start-up (schema created) and one answers /health.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await receiver.stop();
      throw new Error(`uvicorn exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    }
    if ((output.match(/Application startup complete/g) ?? []).length >= workers) {
      try {
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
        if (response.status === 200) return receiver;
      } catch {
        // not answering yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await receiver.stop();
  throw new Error(`the receiver at ${url} was not ready within ${options.readyTimeoutMs ?? 60_000} ms:\n${output}`);
}

/** Starts the receiver under `uvicorn --workers 4` (by default) on 127.0.0.1 and waits until every worker is up. */
export async function startFastapiReceiver(options: StartFastapiReceiverOptions): Promise<FastapiReceiver> {
  if (!existsSync(PYTHON)) {
    throw new Error(`no virtualenv for the FastAPI receiver (${PYTHON} is missing): run \`bash scripts/prereqs.sh python\``);
  }
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOnce(options, port);
    } catch (err) {
      // Another process may have taken the port between freePort() and uvicorn's bind.
      if (options.port !== undefined || attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

/** What Cronplane puts on one delivery of an occurrence. */
export interface DeliveryToSign {
  /** webhook-id (and Idempotency-Key): the occurrence's id, the same on every delivery of it. */
  id: string;
  /** The secrets that sign it (two while a rotation is under way: one `v1,` entry each, space-separated). */
  secrets: string[];
  /** The body, exactly as sent. Default ''. */
  body?: string;
  /** webhook-timestamp: when this attempt is sent. Default now. */
  at?: Date;
  jobId?: string;
  jobName?: string;
  runId?: string;
  scheduledFor?: Date;
  attempt?: number;
  trigger?: 'schedule' | 'manual' | 'catch-up' | 'retry';
}

/** The headers of one delivery, made by the same functions lib/jobs/http.ts sends them with. */
export function signedDeliveryHeaders(delivery: DeliveryToSign): Record<string, string> {
  const at = delivery.at ?? new Date();
  return {
    ...deliveryHeaders({
      jobId: delivery.jobId ?? '00000000-0000-4000-8000-000000000000',
      jobName: delivery.jobName ?? 'test job',
      runId: delivery.runId ?? '00000000-0000-4000-8000-000000000001',
      scheduledFor: delivery.scheduledFor ?? at,
      attempt: delivery.attempt ?? 1,
      trigger: delivery.trigger ?? 'schedule',
    }),
    ...signedHeaders(delivery.id, at, delivery.body ?? '', delivery.secrets),
  };
}

export interface ReceiverAnswer {
  status: number;
  /** The JSON answer (null for an empty or non-JSON body, e.g. to HEAD). */
  json: any;
}

/**
 * Sends one request on a connection of its own (as Cronplane's http job does: no keep-alive agent), so concurrent
 * requests reach whichever worker accepts each connection.
 */
export function sendToReceiver(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<ReceiverAnswer> {
  const target = new URL(options.path ?? '/', url);
  const body = options.body ?? '';
  return new Promise((resolveAnswer, reject) => {
    const req = request(
      target,
      {
        method: options.method ?? 'POST',
        agent: false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers, 'content-length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = null;
          }
          resolveAnswer({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'POST'} ${target.href}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}
