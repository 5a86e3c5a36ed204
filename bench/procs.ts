/** Worker processes for the benchmark: spawn, wait for READY, sample /proc, stop by PID within a bound. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface WorkerProc {
  id: string;
  child: ChildProcess;
  pid: number;
  logs(): string;
  exited: Promise<void>;
}

const ROOT = new URL('..', import.meta.url).pathname;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** node --conditions=react-server --import tsx <script>: the PID is node itself (tsx loads in-process). */
export async function startWorker(script: string, id: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<WorkerProc> {
  const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env, INSTANCE_ID: id, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    // Bounded: a chatty worker must not grow the bench's memory without limit.
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (output.includes(`READY ${id}`)) resolve(true);
      };
      child.stdout!.on('data', check);
      check();
    }),
    exited.then(() => false),
    delay(readyTimeoutMs).then(() => false),
  ]);
  if (!ready || child.pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(`worker ${id} (${script}) did not start:\n${output.slice(-4000)}`);
  }
  return { id, child, pid: child.pid, logs: () => output, exited };
}

/** SIGTERM by PID, wait up to graceMs, then SIGKILL. */
export async function stopWorker(w: WorkerProc, graceMs = 15_000): Promise<'exited' | 'killed'> {
  const alive = (): boolean => w.child.exitCode === null && w.child.signalCode === null;
  if (!alive()) return 'exited';
  process.kill(w.pid, 'SIGTERM');
  const done = await Promise.race([w.exited.then(() => true), delay(graceMs).then(() => false)]);
  if (done) return 'exited';
  if (alive()) process.kill(w.pid, 'SIGKILL');
  await Promise.race([w.exited, delay(5_000)]);
  return 'killed';
}

export interface ProcSample {
  /** utime + stime of the process, in seconds. */
  cpuSeconds: number;
  /** VmHWM: the peak resident set size so far, in MiB. */
  peakRssMiB: number;
}

// USER_HZ is 100 on every Linux this runs on (the kernel ABI fixes it for /proc).
const CLOCK_TICKS = 100;

export function sampleProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return { cpuSeconds, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
  } catch {
    return null;
  }
}
