/**
 * `npm run bench [-- --quick] [--loads 10,100,200,300,500,1000] [--instances 1,3] [--duration 30] [--systems cronplane,agenda,pgboss]`
 *
 * Same load for every system: K jobs, each due every second (K = the load in occurrences/s), run by N worker
 * processes against one fresh database per scenario on one private PostgreSQL server. Lag, duplicates and
 * misses come from SQL over what the workers recorded, inside a window that leaves out warm-up and cool-down.
 * Writes bench/results/<date>.json, <date>.md and latest.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startTestPostgres, type TestPostgres } from '../tests/support/postgres';
import { delay, sampleProc, startWorker, stopWorker, type ProcSample, type WorkerProc } from './procs';
import { SYSTEMS, type Feeder, type Measured, type SystemName } from './systems';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    loads: { type: 'string' },
    instances: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    cooldown: { type: 'string' },
    systems: { type: 'string' },
    'max-minutes': { type: 'string', default: '60' },
  },
  strict: true,
});

function list(raw: string | undefined, fallback: number[]): number[] {
  if (!raw) return fallback;
  const items = raw.split(',').map((s) => Number(s.trim()));
  if (items.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`expected positive integers, got "${raw}"`);
  return items;
}

const quick = values.quick;
const loads = list(values.loads, quick ? [10, 100] : [10, 100, 200, 300, 500, 1000]);
const instanceCounts = list(values.instances, [1, 3]);
const durationS = Number(values.duration ?? (quick ? 10 : 30));
const warmupS = Number(values.warmup ?? (quick ? 4 : 5));
const cooldownS = Number(values.cooldown ?? 3);
const systems = (values.systems?.split(',').map((s) => s.trim()) ?? Object.keys(SYSTEMS)) as SystemName[];
const deadline = Date.now() + Number(values['max-minutes']) * 60_000;
for (const s of systems) if (!(s in SYSTEMS)) throw new Error(`unknown system "${s}"; known: ${Object.keys(SYSTEMS).join(', ')}`);
if (![durationS, warmupS, cooldownS].every((n) => Number.isFinite(n) && n >= 1))
  throw new Error('--duration, --warmup and --cooldown are seconds >= 1');

export interface ScenarioResult extends Measured {
  system: string;
  instances: number;
  load: number;
  windowStart: string;
  windowEnd: string;
  /** CPU seconds each worker used inside the window. */
  cpuSeconds: number[];
  /** Peak RSS (VmHWM) of each worker, MiB. */
  peakRssMiB: number[];
  /** How each worker stopped after SIGTERM. */
  stopped: string[];
  error?: string;
}

const live = new Set<WorkerProc>();
const feeders = new Set<Feeder>();
const databases = new Set<TestPostgres>();

async function cleanup(): Promise<void> {
  await Promise.allSettled([...feeders].map((f) => f.stop()));
  await Promise.allSettled([...live].map((w) => stopWorker(w, 5_000)));
  await Promise.allSettled([...databases].map((d) => d.stop()));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Registered before startTestPostgres registers its own (which removes the server and exits).
  process.prependOnceListener(signal, () => {
    console.error(`bench: ${signal}, stopping workers`);
    for (const w of live) if (w.child.exitCode === null) process.kill(w.pid, 'SIGKILL');
  });
}

const secretsKey = randomBytes(32).toString('base64');

async function runScenario(system: SystemName, instances: number, load: number): Promise<ScenarioResult> {
  const def = SYSTEMS[system];
  const db = await startTestPostgres();
  databases.add(db);
  const workers: WorkerProc[] = [];
  const base = { system: def.label, instances, load };
  let feeder: Feeder | null = null;
  try {
    const env = { DATABASE_URL: db.url, SECRETS_KEY: secretsKey, BENCH_JOBS: String(load), ...def.env };
    const start = async (n: number): Promise<void> => {
      const w = await startWorker(def.workerScript, `${system}-${n}`, { ...env, BENCH_CREATE: n === 1 ? '1' : '0' });
      live.add(w);
      workers.push(w);
    };
    // The first worker alone creates the schema (and Agenda's jobs); the others then start together.
    await start(1);
    await Promise.all(Array.from({ length: instances - 1 }, (_, k) => start(k + 2)));
    workers.sort((a, b) => a.id.localeCompare(b.id));
    // The producer (pg-boss) is stopped explicitly after the cool-down; `until` only bounds it if we never get there.
    feeder = await def.begin({ url: db.url, load, until: new Date(Date.now() + (warmupS + durationS + cooldownS + 300) * 1000), env });
    feeders.add(feeder);
    // The warm-up counts from when the whole load is in place (creating 500 jobs takes a while).
    const windowStartMs = Math.ceil((Date.now() + warmupS * 1000) / 1000) * 1000;
    const windowEndMs = windowStartMs + durationS * 1000;
    await delay(windowStartMs - Date.now());
    const at0 = workers.map((w) => sampleProc(w.pid));
    await delay(windowEndMs - Date.now());
    const at1 = workers.map((w) => sampleProc(w.pid));
    await delay(cooldownS * 1000);
    const peaks = workers.map((w) => sampleProc(w.pid));
    await feeder.stop();
    feeders.delete(feeder);
    feeder = null;
    const stopped = await Promise.all(
      workers.map(async (w) => {
        const how = await stopWorker(w);
        live.delete(w);
        return how;
      }),
    );
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let measured: Measured;
    try {
      measured = await def.measure(client, { load, t0: new Date(windowStartMs), t1: new Date(windowEndMs) });
    } finally {
      await client.end();
    }
    const cpu = (a: ProcSample | null | undefined, b: ProcSample | null | undefined): number =>
      a && b ? b.cpuSeconds - a.cpuSeconds : NaN;
    return {
      ...base,
      ...measured,
      windowStart: new Date(windowStartMs).toISOString(),
      windowEnd: new Date(windowEndMs).toISOString(),
      cpuSeconds: workers.map((_, i) => cpu(at0[i], at1[i])),
      peakRssMiB: peaks.map((p) => p?.peakRssMiB ?? NaN),
      stopped,
    };
  } finally {
    if (feeder) {
      await feeder.stop().catch(() => undefined);
      feeders.delete(feeder);
    }
    await Promise.allSettled(
      workers
        .filter((w) => live.has(w))
        .map(async (w) => {
          if (process.env.BENCH_SHOW_LOGS) console.error(`--- ${w.id}\n${w.logs().slice(-3000)}`);
          await stopWorker(w, 5_000);
          live.delete(w);
        }),
    );
    await db.stop();
    databases.delete(db);
  }
}

async function machine(url: string): Promise<Record<string, string | number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ version: string }>('SELECT version()');
  await client.end();
  const mem = /MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(((mem ? Number(mem[1]) * 1024 : totalmem()) / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: rows[0]!.version,
  };
}

const fmt = (n: number | null, digits = 0): string => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(digits));
const perInstance = (xs: number[], digits: number): string => xs.map((x) => fmt(x, digits)).join(' / ');

function markdown(results: ScenarioResult[], info: Record<string, string | number>, command: string, startedAt: Date): string {
  const lines = [
    `# Cronplane dispatch benchmark, ${startedAt.toISOString().slice(0, 10)}`,
    '',
    `Command: \`${command}\``,
    '',
    `Machine: ${info.cpuModel}, ${info.cores} cores, ${info.memoryGiB} GiB memory, Node ${info.node}, ${info.postgres}.`,
    `Window: ${durationS} s per scenario after ${warmupS} s warm-up, ${cooldownS} s cool-down; K jobs each due every second (load = K occurrences/s).`,
    '',
    '| System | Inst. | Load /s | Lag p50 ms | p95 | p99 | max | Runs/s | Dup. | Miss | CPU s per inst. (window) | Peak RSS MiB per inst. | Work split | Notes |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    if (r.error) {
      lines.push(
        `| ${r.system} | ${r.instances} | ${r.load} | failed: ${r.error.split('\n')[0]!.replace(/\|/g, '/').slice(0, 160)} | | | | | | | | | | |`,
      );
      continue;
    }
    lines.push(
      `| ${r.system} | ${r.instances} | ${r.load} | ${fmt(r.lagMs.p50)} | ${fmt(r.lagMs.p95)} | ${fmt(r.lagMs.p99)} | ${fmt(r.lagMs.max)} | ${fmt(r.runsPerSecond, 1)} | ${r.duplicates} | ${r.misses} / ${r.expected} | ${perInstance(r.cpuSeconds, 1)} | ${perInstance(r.peakRssMiB, 0)} | ${r.workSplit} | ${r.detail ?? ''} |`,
    );
  }
  lines.push('', '## How each system is measured', '');
  for (const s of systems) lines.push(`- **${SYSTEMS[s].label}**: ${SYSTEMS[s].method}`);
  lines.push(
    '- **All**: Dup. = executions beyond the first of one (job, occurrence); Miss = occurrences due in the window that had not started by the end of the cool-down (of the number due). Lag percentiles and the work split are over the occurrences due in the window that started; Runs/s counts every start inside the window (for a system that falls behind, those are older occurrences). CPU = utime+stime from /proc/<pid>/stat over the window; peak RSS = VmHWM from /proc/<pid>/status. Each scenario gets a fresh database on the same PostgreSQL server (fsync off: a throwaway test cluster).',
    '',
  );
  return lines.join('\n');
}

const startedAt = new Date();
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const probe = await startTestPostgres();
const info = await machine(probe.url);
await probe.stop();
console.log(`bench: ${systems.join(', ')} x instances ${instanceCounts.join(',')} x loads ${loads.join(',')}/s, ${durationS} s windows`);

const results: ScenarioResult[] = [];
for (const load of loads) {
  for (const instances of instanceCounts) {
    for (const system of systems) {
      if (Date.now() > deadline) {
        results.push({
          ...SYSTEMS[system].empty(),
          system: SYSTEMS[system].label,
          instances,
          load,
          windowStart: '',
          windowEnd: '',
          cpuSeconds: [],
          peakRssMiB: [],
          stopped: [],
          error: 'skipped: --max-minutes reached',
        });
        continue;
      }
      process.stdout.write(`bench: ${system} x${instances} at ${load}/s ... `);
      try {
        const r = await runScenario(system, instances, load);
        results.push(r);
        console.log(`p99 ${fmt(r.lagMs.p99)} ms, ${fmt(r.runsPerSecond, 1)} runs/s, dup ${r.duplicates}, miss ${r.misses}/${r.expected}`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        console.log(`FAILED: ${message.split('\n')[0]}`);
        results.push({
          ...SYSTEMS[system].empty(),
          system: SYSTEMS[system].label,
          instances,
          load,
          windowStart: '',
          windowEnd: '',
          cpuSeconds: [],
          peakRssMiB: [],
          stopped: [],
          error: message,
        });
      }
    }
  }
}
await cleanup();

// A --quick sanity run gets its own name, so it never replaces the day's full results (or latest.md).
const name = `${startedAt.toISOString().slice(0, 10)}${quick ? '-quick' : ''}`;
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const md = markdown(results, info, command, startedAt);
writeFileSync(
  `${dir}${name}.json`,
  `${JSON.stringify({ startedAt, command, machine: info, durationS, warmupS, cooldownS, loads, instances: instanceCounts, results }, null, 2)}\n`,
);
writeFileSync(`${dir}${name}.md`, md);
if (!quick) writeFileSync(`${dir}latest.md`, md);
console.log(`\n${md}\nbench: wrote bench/results/${name}.json and ${name}.md${quick ? '' : ' and latest.md'}`);
process.exit(0);
