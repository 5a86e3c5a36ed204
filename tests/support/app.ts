/**
 * Starts the built app (`next start`) as a child process for integration tests.
 * Needs a build in NEXT_DIST_DIR (default .next): the test script builds once before the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './postgres';

export interface StartedApp {
  baseUrl: string;
  pid: number;
  /** The credentials the app was started with ('' when options.env unset them). */
  adminPassword: string;
  apiToken: string;
  instanceId: string;
  /** Everything the app printed so far (stdout and stderr interleaved), for failure messages. */
  logs(): string;
  /** Sends `signal` (default SIGTERM) to the process and waits for it to exit (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** How the process ended (null while it runs). */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
}

export interface StartAppOptions {
  /** null: no DATABASE_URL at all, the embedded default (give it CRONPLANE_DATA_DIR and EMBEDDED_PG_PORT in env). */
  databaseUrl: string | null;
  /** The HTTP port; default a free one. */
  port?: number;
  /** Extra or overriding environment variables; `undefined` removes one (e.g. API_TOKEN, to test generated credentials). */
  env?: Record<string, string | undefined>;
  /** How long to wait for /api/health to answer 200. Default 60 s. */
  readyTimeoutMs?: number;
}

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const NEXT_BIN = join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
const LOG_LIMIT = 200_000;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test process that dies must not leave servers behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

export async function startApp(options: StartAppOptions): Promise<StartedApp> {
  const distDir = process.env.NEXT_DIST_DIR || '.next';
  if (!existsSync(join(ROOT, distDir, 'BUILD_ID'))) {
    throw new Error(`no build in ${distDir}: run \`NEXT_DIST_DIR=${distDir} npx next build\` first`);
  }
  const port = options.port ?? (await freePort());
  const adminPassword = `pw-${randomBytes(9).toString('base64url')}`;
  const apiToken = `tok-${randomBytes(18).toString('base64url')}`;
  const instanceId = `test-${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    NEXT_DIST_DIR: distDir,
    DATABASE_URL: options.databaseUrl ?? undefined,
    ADMIN_PASSWORD: adminPassword,
    API_TOKEN: apiToken,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    INSTANCE_ID: instanceId,
    // Test targets (HTTP jobs, the e2e form) live on this machine, which the SSRF guard refuses by default.
    HTTP_JOB_ALLOW: '127.0.0.1',
    // Tests count and compare job lists; the built-in retention job is covered by its own test.
    CRONPLANE_SYSTEM_JOBS: '0',
    ...options.env,
  };
  // The test runner's own flags (--test, --import tsx, conditions) must not leak into the app.
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;

  installExitHook();
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const pid = child.pid;
  if (pid === undefined) throw new Error('next start did not spawn');
  const baseUrl = `http://127.0.0.1:${port}`;
  const app: StartedApp = {
    baseUrl,
    pid,
    // '' when the caller unset them (the app then generates its own into .data/credentials.json).
    adminPassword: env.ADMIN_PASSWORD ?? '',
    apiToken: env.API_TOKEN ?? '',
    instanceId: env.INSTANCE_ID ?? '',
    logs: () => output,
    exitStatus: () => (child.exitCode === null && child.signalCode === null ? null : { code: child.exitCode, signal: child.signalCode }),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }, 10_000);
      await exited(child);
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`next start exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    }
    try {
      const response = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return app;
      last = `${response.status} ${await response.text()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await app.stop('SIGKILL');
  throw new Error(`app at ${baseUrl} not healthy within ${options.readyTimeoutMs ?? 60_000} ms (last: ${last}):\n${output}`);
}

/**
 * Signs in through POST /api/session and returns the `cronplane_session=<value>` pair for a Cookie header.
 * Each call sends its own X-Forwarded-For so the per-address sign-in limit of one test does not leak into another.
 */
export async function loginCookie(app: Pick<StartedApp, 'baseUrl'>, username: string, password: string): Promise<string> {
  const response = await fetch(`${app.baseUrl}/api/session`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`sign-in as ${username} failed: ${response.status} ${text}`);
  const cookie = /cronplane_session=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) throw new Error('sign-in answered 200 without a session cookie');
  return `cronplane_session=${cookie}`;
}
