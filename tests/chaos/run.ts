/**
 * `npm run chaos -- [--store postgres|mongodb] [--minutes N] [--instances N] [--seed N] [--out DIR]
 *                   [--short-jobs N] [--long-jobs N] [--lease-ms N] [--lock-ms N] [--heartbeat-ms N] [--sweep-ms N]
 *                   [--missed-grace-ms N] [--label NAME] [--faults kind[:weight],...] [--gap-ms MIN-MAX]
 *                   [--offsets=-250,-130,after]`
 *
 * Starts the database, a receiver, N `next start` instances and the jobs, runs the nemesis for the duration, then
 * checks every occurrence (tests/chaos/checker.ts) and writes a JSON and a markdown report to --out
 * (default docs/chaos/results). Exit status 1 on any violation, 2 on a harness error.
 * Scheduler lease, lock, heartbeat and sweep are the product's defaults unless a flag sets them. --faults picks the
 * fault kinds and their weights (default: mostly aimed faults, every kind; see nemesis.ts), --gap-ms the pause between
 * faults (default 10000-20000), --offsets the aimed faults' offsets from the due time (negative ms, and "after" for
 * +10-50 ms; default -250,-130,-80,-40,-20,after).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { FAULT_KINDS, type FaultKind } from './nemesis';
import { runChaos } from './scenario';

function int(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${value}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'postgres' },
      minutes: { type: 'string' },
      instances: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string', default: 'docs/chaos/results' },
      'short-jobs': { type: 'string' },
      'long-jobs': { type: 'string' },
      'lease-ms': { type: 'string' },
      'lock-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'sweep-ms': { type: 'string' },
      'missed-grace-ms': { type: 'string' },
      offsets: { type: 'string' },
      label: { type: 'string' },
      faults: { type: 'string' },
      'gap-ms': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'npm run chaos -- [--store postgres|mongodb] [--minutes 5] [--instances 3] [--seed N] [--out docs/chaos/results] [--short-jobs 30] [--long-jobs 4] [--lease-ms N] [--lock-ms N] [--heartbeat-ms N] [--sweep-ms N] [--missed-grace-ms N] [--label NAME] [--faults kind[:weight],...] [--gap-ms MIN-MAX] [--offsets=-250,-130,after]',
    );
    return 0;
  }
  const store = values.store;
  if (store !== 'postgres' && store !== 'mongodb') throw new Error(`--store must be postgres or mongodb, got "${store}"`);
  const env: Record<string, string> = {};
  const flag = (name: 'lease-ms' | 'lock-ms' | 'heartbeat-ms' | 'sweep-ms' | 'missed-grace-ms', variable: string): void => {
    if (values[name] !== undefined) env[variable] = String(int(name, values[name], 0, 1));
  };
  flag('lease-ms', 'SCHEDULER_LEASE_MS');
  flag('lock-ms', 'SCHEDULER_LOCK_LIFETIME_MS');
  flag('heartbeat-ms', 'SCHEDULER_HEARTBEAT_MS');
  flag('sweep-ms', 'SCHEDULER_SWEEP_MS');
  flag('missed-grace-ms', 'SCHEDULER_MISSED_GRACE_MS');
  let offsets: { before: number[]; after: boolean } | undefined;
  if (values.offsets) {
    const parts = values.offsets.split(',').map((p) => p.trim());
    const before = parts
      .filter((p) => p !== 'after')
      .map((p) => {
        const n = Number(p);
        if (!Number.isInteger(n) || n >= 0) throw new Error(`--offsets: "${p}" is not a negative number of ms or "after"`);
        return n;
      });
    offsets = { before, after: parts.includes('after') };
  }
  const seed = int('seed', values.seed, Date.now() % 1_000_000);
  let weights: Partial<Record<FaultKind, number>> | undefined;
  if (values.faults) {
    weights = {};
    for (const part of values.faults.split(',')) {
      const [kind, weight] = part.split(':');
      if (!FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`--faults: unknown kind "${kind}" (kinds: ${FAULT_KINDS.join(', ')})`);
      weights[kind as FaultKind] = int('faults', weight ?? '1', 0);
    }
  }
  let gapMs: [number, number] | undefined;
  if (values['gap-ms']) {
    const [min, max] = values['gap-ms'].split('-');
    gapMs = [int('gap-ms', min, 0), int('gap-ms', max ?? min, 0)];
  }
  const result = await runChaos({
    store,
    durationMs: Math.round(int('minutes', values.minutes, 5) * 60_000),
    instances: int('instances', values.instances, 3, 1),
    seed,
    out: resolve(values.out!),
    shortJobs: int('short-jobs', values['short-jobs'], 30),
    longJobs: int('long-jobs', values['long-jobs'], 4),
    env,
    label: values.label,
    weights,
    gapMs,
    offsets,
  });
  return result.report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[chaos] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
