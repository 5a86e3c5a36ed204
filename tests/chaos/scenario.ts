/**
 * One chaos run, end to end: database, receiver, N instances, jobs (every missed and overlap policy, short and long),
 * the nemesis for the duration, then heal, settle, pause every job, settle again, collect the run records and the
 * receiver's log, check them (checker.ts) and write the reports. Used by run.ts (`npm run chaos`) and the bounded
 * chaos-*.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, RunStatus } from '../../lib/store/types';
import { collectRuns, toCheckJob, type SavedInput } from './adapter';
import { check, summarize, type CheckReport } from './checker';
import { Cluster, effectiveSchedulerConfig, instanceEnv, type StoreName } from './cluster';
import { Nemesis, seededRandom, type Fault, type FaultKind } from './nemesis';
import { startReceiver } from './receiver';
import { markdownReport } from './report';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A long job's target answers after a delay in this range (ms): calls longer than the lease. */
const LONG_TARGET_MIN_MS = 25_000;
const LONG_TARGET_MAX_MS = 40_000;

export interface ChaosOptions {
  store: StoreName;
  /** How long the nemesis runs, ms. */
  durationMs: number;
  instances: number;
  seed: number;
  /** Directory for the reports; null: none written. */
  out: string | null;
  /** Jobs due every 2 s (cron with seconds), cycling through the missed and overlap policies. */
  shortJobs: number;
  /** Jobs due every 20 s whose target takes 25-40 s. */
  longJobs: number;
  /** Extra instance environment (flags): e.g. SCHEDULER_LEASE_MS. `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Fault weights; default: mostly aimed faults, every kind. */
  weights?: Partial<Record<FaultKind, number>>;
  /** Offsets of aimed faults (nemesis.ts NemesisOptions.offsets). */
  offsets?: { before: number[]; after: boolean };
  /** Pause between faults [min, max] ms (default 10-20 s). */
  gapMs?: [number, number];
  /** A label for the report's title and file names. */
  label?: string;
  log?: (line: string) => void;
}

export interface ChaosResult {
  report: CheckReport;
  faults: Fault[];
  files: string[];
  summary: string;
}

const MISSED = ['run-all', 'run-once', 'skip'] as const;
const OVERLAP = ['allow', 'skip', 'queue-one'] as const;
const LONG_OVERLAP = ['skip', 'queue-one', 'allow', 'skip'] as const;

export function defaultWeights(durationMs: number): Partial<Record<FaultKind, number>> {
  return {
    'aimed-kill': 30,
    'aimed-freeze': 25,
    'aimed-term': 15,
    kill: 7,
    freeze: 7,
    term: 6,
    'db-restart': 6,
    // The 40-50 s freeze only in long runs (10 minutes or more).
    'long-freeze': durationMs >= 10 * 60_000 ? 4 : 0,
  };
}

/** Builds .next (or NEXT_DIST_DIR) once when it is missing. */
export function ensureBuild(log: (line: string) => void): void {
  const distDir = process.env.NEXT_DIST_DIR || '.next';
  if (existsSync(join(ROOT, distDir, 'BUILD_ID'))) return;
  log(`no build in ${distDir}: npx next build`);
  const result = spawnSync('npx', ['next', 'build'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NEXT_DIST_DIR: distDir },
  });
  if (result.status !== 0) throw new Error(`next build failed (${result.status})`);
}

function gitCommit(): string {
  const result = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib', 'app', 'prisma'], { cwd: ROOT, encoding: 'utf8' });
  return `${result.stdout.trim() || '?'}${dirty.stdout.trim() ? ' (with uncommitted changes in lib/app/prisma)' : ''}`;
}

async function listAllRuns(
  store: Cluster['services']['store'],
  status: string,
): Promise<Array<{ scheduledFor: Date; leaseExpiresAt: Date | null; jobId: string }>> {
  const runs: Array<{ scheduledFor: Date; leaseExpiresAt: Date | null; jobId: string }> = [];
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({ status: status as RunStatus, limit: 200, cursor });
    runs.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return runs;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  // Read when the run begins: the tree may move on while it goes (the instances run the build they started with).
  const commit = gitCommit();
  const t0 = Date.now();
  const log = options.log ?? ((line: string) => console.log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`));
  const random = seededRandom(options.seed);
  ensureBuild(log);
  const env = instanceEnv(options.env);
  const config = await effectiveSchedulerConfig(env);
  const leaseMs = typeof config.leaseMs === 'number' ? config.leaseMs : 30_000;
  const prefetchMs = typeof config.prefetchMs === 'number' ? config.prefetchMs : 150;
  const shutdownGraceMs = typeof config.shutdownGraceMs === 'number' ? config.shutdownGraceMs : 20_000;
  const missedGraceMs = typeof config.missedGraceMs === 'number' ? config.missedGraceMs : null;
  log(
    `store ${options.store}, ${options.instances} instances, ${options.shortJobs}+${options.longJobs} jobs, ${Math.round(options.durationMs / 1000)} s of faults, seed ${options.seed}; lease ${leaseMs} ms, prefetch ${prefetchMs} ms, missed grace ${missedGraceMs} ms, shutdown grace ${shutdownGraceMs} ms`,
  );

  const receiver = await startReceiver({ random });
  const cluster = new Cluster({ store: options.store, instances: options.instances, env: options.env, log });
  let nemesis: Nemesis | null = null;
  const startedAt = Date.now();
  try {
    await cluster.start();
    const { services, store } = cluster.services;
    const { SYSTEM_ACTOR } = await import('../../lib/auth/principal');

    // The jobs: short ones every 2 s through every (missed, overlap) pair; a few targets run close to the period.
    const jobs: Job[] = [];
    for (let i = 0; i < options.shortJobs; i++) {
      const missedPolicy = MISSED[i % 3]!;
      const overlapPolicy = OVERLAP[Math.floor(i / 3) % 3]!;
      const slow = i % 6 === 5;
      const target = slow ? 'min=1200&max=2600' : 'min=20&max=400';
      jobs.push(
        await services.createJob(
          {
            name: `short-${String(i).padStart(2, '0')}-${missedPolicy}-${overlapPolicy}${slow ? '-slow' : ''}`,
            type: 'http',
            payload: { url: `${receiver.url}/hook?${target}&job=s${i}`, timeoutSeconds: 60 },
            schedule: { kind: 'cron', expression: '*/2 * * * * *', timezone: 'UTC' },
            missedPolicy,
            overlapPolicy,
          },
          SYSTEM_ACTOR,
        ),
      );
    }
    for (let i = 0; i < options.longJobs; i++) {
      const missedPolicy = MISSED[i % 3]!;
      const overlapPolicy = LONG_OVERLAP[i % LONG_OVERLAP.length]!;
      jobs.push(
        await services.createJob(
          {
            name: `long-${i}-${missedPolicy}-${overlapPolicy}`,
            type: 'http',
            payload: { url: `${receiver.url}/hook?min=${LONG_TARGET_MIN_MS}&max=${LONG_TARGET_MAX_MS}&job=l${i}`, timeoutSeconds: 60 },
            schedule: { kind: 'cron', expression: '*/20 * * * * *', timezone: 'UTC' },
            missedPolicy,
            overlapPolicy,
          },
          SYSTEM_ACTOR,
        ),
      );
    }
    log(`${jobs.length} jobs created`);
    // This process's own ticket writer (the services' dispatch client) is not under test: closed until the pause needs
    // it, so it does not fill the log with reconnects during database restarts.
    await (await import('../../lib/scheduler/dispatch')).closeDispatchClient();

    // Faults.
    nemesis = new Nemesis({
      cluster,
      random,
      leaseMs,
      termTimeoutMs: shutdownGraceMs + 15_000,
      weights: options.weights ?? defaultWeights(options.durationMs),
      periodSeconds: 2,
      longPeriodSeconds: options.longJobs > 0 ? 20 : undefined,
      gapMs: options.gapMs,
      offsets: options.offsets,
      log,
    });
    await nemesis.run(Date.now() + options.durationMs);
    log(`faults over: ${nemesis.faults.length} applied; healing and settling`);
    await cluster.heal();

    // Settle while the jobs still run: no overdue job, no run left behind by a dead instance (expired lease), no
    // claim older than a few seconds. Long jobs keep running runs all the time, so "nothing running" cannot be asked here.
    const settleMs = leaseMs + 60_000;
    const settled = async (): Promise<string | null> => {
      const now = await store.now();
      for (const job of jobs) {
        const current = await store.getJob(job.id);
        if (current?.nextRunAt && current.nextRunAt.getTime() < now.getTime() - 1_000)
          return `${job.name} is overdue (${current.nextRunAt.toISOString()})`;
      }
      const expired = (await listAllRuns(store, 'running')).filter(
        (r) => r.leaseExpiresAt !== null && r.leaseExpiresAt.getTime() < now.getTime(),
      );
      if (expired.length) return `${expired.length} running run(s) with an expired lease`;
      const claimed = (await listAllRuns(store, 'claimed')).filter((r) => r.scheduledFor.getTime() < now.getTime() - 3_000);
      if (claimed.length) return `${claimed.length} claimed run(s) older than 3 s`;
      if ((await listAllRuns(store, 'retrying')).length) return 'runs waiting to retry';
      return null;
    };
    let why: string | null = 'not checked yet';
    for (const deadline = Date.now() + settleMs; Date.now() < deadline; await sleep(1_000)) {
      why = await settled().catch((err: unknown) => `store: ${err instanceof Error ? err.message : String(err)}`);
      if (!why) break;
    }
    if (why) log(`not settled after ${settleMs} ms (${why}); pausing anyway`);
    // A few clean periods before the pause.
    await sleep(4_000);

    // Pause every job; the pause time ends each job's checked window.
    const pausedAt = new Map<string, Date>();
    for (const job of jobs) {
      await services.pauseJob(job.id, SYSTEM_ACTOR);
      pausedAt.set(job.id, new Date());
    }
    log('every job paused; waiting for the last runs and deliveries');
    const quiet = async (): Promise<string | null> => {
      for (const status of ['claimed', 'running', 'retrying']) {
        const n = (await listAllRuns(store, status)).length;
        if (n) return `${n} ${status} run(s)`;
      }
      if (receiver.inFlight() > 0) return `${receiver.inFlight()} delivery(ies) in flight`;
      return null;
    };
    why = 'not checked yet';
    // An occurrence due before the pause still runs (queued behind its job's running one, a queue-one run is not a
    // claim, which the pause closes): a long job may need its previous run and then this one, two of its longest calls,
    // after the pause (found in CI: a queue-one run started 30 s after the pause and was still running at 66 s).
    const quietMs = settleMs + 2 * LONG_TARGET_MAX_MS;
    for (const deadline = Date.now() + quietMs; Date.now() < deadline; await sleep(1_000)) {
      why = await quiet().catch((err: unknown) => `store: ${err instanceof Error ? err.message : String(err)}`);
      if (!why) break;
    }
    if (why) log(`not quiet after ${quietMs} ms (${why}); checking anyway`);

    // Collect and check.
    const runs = await collectRuns(
      store,
      jobs.map((j) => j.id),
    );
    const input: SavedInput = {
      jobs: jobs.map((j) => toCheckJob(j, pausedAt.get(j.id)!)),
      runs,
      lifecycle: cluster.events,
      faults: nemesis.faults,
    };
    const report = check({ ...input, deliveries: receiver.deliveries });
    const summary = summarize(report);
    log(`\n${summary}`);

    const files: string[] = [];
    if (options.out) {
      mkdirSync(options.out, { recursive: true });
      const stamp = new Date(startedAt).toISOString().replace(/[:.]/g, '-');
      const base = join(options.out, `${options.label ?? 'chaos'}-${options.store}-${stamp}`);
      const meta = {
        title: options.label ?? 'chaos run',
        commit,
        store: options.store,
        instances: options.instances,
        seed: options.seed,
        durationMs: options.durationMs,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date().toISOString(),
        jobs: { short: options.shortJobs, long: options.longJobs },
        scheduler: {
          leaseMs,
          prefetchMs,
          shutdownGraceMs,
          config,
          env: Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'SECRETS_KEY')),
        },
      };
      const { occurrences, ...rest } = report;
      writeFileSync(
        `${base}.json`,
        JSON.stringify(
          {
            meta,
            faults: nemesis.faults,
            instances: cluster.members.map((m) => ({
              id: m.instanceId,
              pid: m.pid,
              spawnedAt: new Date(m.spawnedAt).toISOString(),
              readyAt: new Date(m.readyAt).toISOString(),
              exitedAt: m.exitedAt ? new Date(m.exitedAt).toISOString() : null,
            })),
            lifecycle: cluster.events,
            report: rest,
          },
          null,
          2,
        ),
      );
      writeFileSync(`${base}.md`, markdownReport({ meta, faults: nemesis.faults, report, members: cluster.members }));
      receiver.writeJsonl(`${base}-deliveries.jsonl`);
      // The checker's whole input (with the deliveries above): `recheck.ts <base>` runs the checker on it again.
      writeFileSync(`${base}-input.json`, JSON.stringify(input));
      writeFileSync(`${base}-occurrences.jsonl`, occurrences.map((x) => JSON.stringify(x)).join('\n') + '\n');
      files.push(`${base}.json`, `${base}.md`, `${base}-deliveries.jsonl`, `${base}-input.json`, `${base}-occurrences.jsonl`);
      log(`reports: ${files.join(', ')}`);
    }
    return { report, faults: nemesis.faults, files, summary };
  } finally {
    nemesis?.stop();
    await nemesis?.close();
    await cluster.close();
    await receiver.close();
  }
}
