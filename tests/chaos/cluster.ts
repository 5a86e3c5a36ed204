/**
 * The chaos harness's cluster: N `next start` instances (tests/support/app.ts startApp, the build in NEXT_DIST_DIR)
 * on one database: PostgreSQL (tests/support/postgres.ts, a private cluster this process owns, so it can restart it)
 * or the MongoDB-wire test server (tests/support/mongo.ts; MONGODB_URL when set). This process also opens the store
 * and the job services on the same database (tests/scheduler/harness.ts openTestServices), to create jobs and read runs.
 *
 * Every instance gets a fresh id (chaos-1, chaos-2, ...): a restarted instance is a new instance. Every signal sent and
 * every start and exit is recorded with its time (Date.now()) as an InstanceEvent.
 */
import { FAST_ENV, openTestServices, type TestServices } from '../scheduler/harness';
import { startApp, type StartedApp } from '../support/app';
import { startTestMongo } from '../support/mongo';
import { freePort, restartTestPostgresServer, startTestPostgres } from '../support/postgres';
import type { InstanceEvent } from './checker';

export type StoreName = 'postgres' | 'mongodb';

export interface Member {
  instanceId: string;
  pid: number;
  baseUrl: string;
  app: StartedApp;
  /** Date.now() when it was spawned, and when it was healthy. */
  spawnedAt: number;
  readyAt: number;
  /** Date.now() when the process was seen gone. */
  exitedAt: number | null;
  state: 'running' | 'frozen' | 'stopping' | 'dead';
}

export interface ClusterOptions {
  store: StoreName;
  instances: number;
  /** Environment of every instance on top of the base (see instanceEnv); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}

/**
 * The scheduler settings the harness starts from (tests/scheduler/harness.ts FAST_ENV: quick polling, short shutdown
 * grace, the local target allowed, one secrets key), but with the product's own defaults for the lock lifetime, lease,
 * heartbeat, sweep and missed grace: those decide what happens to the occurrences of an instance that fails, and are
 * what is under test. FAST_ENV is also in this process's
 * environment (openTestServices puts it there) and startApp passes that on, hence the explicit removals.
 */
export function instanceEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ...FAST_ENV,
    SCHEDULER_LOCK_LIFETIME_MS: undefined,
    SCHEDULER_LEASE_MS: undefined,
    SCHEDULER_HEARTBEAT_MS: undefined,
    SCHEDULER_SWEEP_MS: undefined,
    SCHEDULER_MISSED_GRACE_MS: undefined,
    HTTP_JOB_ALLOW: '127.0.0.1',
    CRONPLANE_SYSTEM_JOBS: '0',
    ...overrides,
  };
}

/**
 * The scheduler configuration an instance started with `env` would load, read with the product's own loader (so the
 * harness follows its defaults as they change). Falls back to `fallback` for a field the loader does not have.
 */
export async function effectiveSchedulerConfig(env: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  const { loadSchedulerConfig } = await import('../../lib/scheduler/config');
  const keys = new Set(
    [...Object.keys(env), ...Object.keys(process.env)].filter((k) => k.startsWith('SCHEDULER_') || k === 'SHUTDOWN_GRACE_SECONDS'),
  );
  const saved = new Map<string, string | undefined>();
  for (const key of keys) {
    saved.set(key, process.env[key]);
    const value = key in env ? env[key] : process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return { ...(loadSchedulerConfig() as unknown as Record<string, unknown>) };
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class Cluster {
  readonly members: Member[] = [];
  readonly events: InstanceEvent[] = [];
  services!: TestServices;
  private counter = 0;
  private readonly env: Record<string, string | undefined>;
  private readonly log: (line: string) => void;

  constructor(readonly options: ClusterOptions) {
    this.env = instanceEnv(options.env);
    this.log = options.log ?? (() => undefined);
  }

  get databaseUrl(): string {
    return this.services.db.url;
  }

  /** The database, this process's store and services, and the instances. */
  async start(): Promise<void> {
    this.services = await openTestServices(this.options.store === 'postgres' ? startTestPostgres : () => startTestMongo());
    await Promise.all(Array.from({ length: this.options.instances }, () => this.startInstance()));
  }

  /** Instances not killed, stopped or exited (frozen ones included). */
  live(): Member[] {
    this.reap();
    return this.members.filter((m) => m.state === 'running' || m.state === 'frozen');
  }

  /** Instances that run normally right now. */
  running(): Member[] {
    this.reap();
    return this.members.filter((m) => m.state === 'running');
  }

  byId(instanceId: string): Member | undefined {
    return this.members.find((m) => m.instanceId === instanceId);
  }

  private record(member: Pick<Member, 'instanceId' | 'pid'>, kind: InstanceEvent['kind'], at = Date.now()): number {
    this.events.push({ instanceId: member.instanceId, pid: member.pid, kind, at });
    return at;
  }

  /** Notes instances whose process is gone (crashed by itself, or stopped). */
  private reap(): void {
    for (const m of this.members) {
      if (m.state !== 'dead' && m.app.exitStatus() !== null) {
        m.state = 'dead';
        m.exitedAt = Date.now();
        this.record(m, 'exit', m.exitedAt);
        this.log(`instance ${m.instanceId} (pid ${m.pid}) exited: ${JSON.stringify(m.app.exitStatus())}`);
      }
    }
  }

  async startInstance(): Promise<Member> {
    const n = ++this.counter;
    const instanceId = `chaos-${n}`;
    const port = await freePort();
    const spawnedAt = Date.now();
    const app = await startApp({
      databaseUrl: this.services.db.url,
      port,
      env: { ...this.env, INSTANCE_ID: instanceId },
      readyTimeoutMs: 90_000,
    });
    const member: Member = {
      instanceId,
      pid: app.pid,
      baseUrl: app.baseUrl,
      app,
      spawnedAt,
      readyAt: Date.now(),
      exitedAt: null,
      state: 'running',
    };
    this.members.push(member);
    this.record(member, 'start', spawnedAt);
    this.log(`instance ${instanceId} started (pid ${app.pid}, ${app.baseUrl}) in ${member.readyAt - spawnedAt} ms`);
    return member;
  }

  /** Sends a signal and records it; returns the time it was sent. */
  signal(member: Member, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): number {
    const kind = ({ SIGKILL: 'kill', SIGSTOP: 'sigstop', SIGCONT: 'sigcont', SIGTERM: 'sigterm' } as const)[signal];
    process.kill(member.pid, signal);
    const at = this.record(member, kind);
    if (signal === 'SIGSTOP') member.state = 'frozen';
    else if (signal === 'SIGCONT' && member.state === 'frozen') member.state = 'running';
    else if (signal === 'SIGTERM') member.state = 'stopping';
    else if (signal === 'SIGKILL') member.state = 'stopping';
    return at;
  }

  /** Waits for the process to exit (SIGKILL after timeoutMs); records the exit. */
  async waitExit(member: Member, timeoutMs: number): Promise<'exited' | 'killed'> {
    const deadline = Date.now() + timeoutMs;
    while (member.app.exitStatus() === null && alive(member.pid) && Date.now() < deadline) await sleep(50);
    let how: 'exited' | 'killed' = 'exited';
    if (member.app.exitStatus() === null && alive(member.pid)) {
      this.log(`instance ${member.instanceId} still there ${timeoutMs} ms later: SIGKILL`);
      how = 'killed';
      await member.app.stop('SIGKILL');
    }
    // stop() resolves on the child's exit event; give the event loop a turn so exitStatus() is set.
    for (let i = 0; i < 40 && member.app.exitStatus() === null; i++) await sleep(25);
    if (member.state !== 'dead') {
      member.state = 'dead';
      member.exitedAt = Date.now();
      this.record(member, 'exit', member.exitedAt);
    }
    return how;
  }

  /** kill -9; resolves when the process is gone. Returns when the signal was sent. */
  async kill(member: Member): Promise<number> {
    const at = this.signal(member, 'SIGKILL');
    await this.waitExit(member, 10_000);
    return at;
  }

  /**
   * SIGTERM (graceful stop); resolves when the process exited, or after `timeoutMs` with a SIGKILL. Returns when
   * the signal was sent and how it ended.
   */
  async terminate(member: Member, timeoutMs: number): Promise<{ at: number; how: 'exited' | 'killed' }> {
    const at = this.signal(member, 'SIGTERM');
    const how = await this.waitExit(member, timeoutMs);
    return { at, how };
  }

  /** Stops the PostgreSQL server for `downMs` and starts it again (PostgreSQL's private cluster only). */
  async restartDatabase(downMs: number): Promise<{ downAt: number; upAt: number }> {
    if (this.options.store !== 'postgres')
      throw new Error('database restarts are for PostgreSQL only: the MongoDB test server is in memory');
    const { downAt, upAt } = await restartTestPostgresServer(downMs);
    return { downAt: downAt.getTime(), upAt: upAt.getTime() };
  }

  /** Brings the cluster back to N running instances (thaws frozen ones, replaces dead ones). */
  async heal(): Promise<void> {
    for (const m of this.live()) if (m.state === 'frozen') this.signal(m, 'SIGCONT');
    while (this.live().length < this.options.instances) await this.startInstance();
  }

  /** Kills every instance (thawing frozen ones first is not needed: SIGKILL ends a stopped process) and closes the database. */
  async close(): Promise<void> {
    for (const m of this.members) {
      if (m.state !== 'dead' && m.app.exitStatus() === null) {
        try {
          process.kill(m.pid, 'SIGKILL');
          this.record(m, 'kill');
        } catch {
          // gone already
        }
      }
    }
    await Promise.allSettled(this.members.map((m) => m.app.stop('SIGKILL')));
    for (const m of this.members) if (m.state !== 'dead') m.state = 'dead';
    await this.services
      ?.close()
      .catch((err: unknown) => this.log(`closing the database: ${err instanceof Error ? err.message : String(err)}`));
  }
}
