import 'server-only';
import { getInstanceId, setInstanceId } from '../instance';
import { errorMessage, logger } from '../log';
import { getStore } from '../store';
import type { Store } from '../store/types';
import { loadSchedulerConfig, type SchedulerConfig } from './config';
import { Scheduler, type DispatchMode } from './scheduler';

export { Scheduler, type DispatchMode } from './scheduler';

export interface StartSchedulerOptions {
  /** Defaults to the process-wide store (getStore()). */
  store?: Store;
  /** Defaults to env INSTANCE_ID, else `${hostname}-${pid}-${random}`. */
  instanceId?: string;
  config?: Partial<SchedulerConfig>;
  /** Hook SIGTERM/SIGINT for a graceful stop, then exit (default true). */
  handleSignals?: boolean;
}

export interface SchedulerInfo {
  instanceId: string;
  /** False on a web-only instance (SCHEDULER_DISABLED=1), before start-up and after stop. */
  running: boolean;
  state: 'disabled' | 'not-started' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  store: string | null;
  error: string | null;
  /** How due work reaches this instance; null when the scheduler does not run here. */
  dispatch: DispatchMode | null;
}

interface SchedulerGlobal {
  starting?: Promise<Scheduler | null>;
  scheduler?: Scheduler;
  disabled?: boolean;
  error?: string;
  signalsHooked?: boolean;
}

// On globalThis: Next loads this module in several bundles (instrumentation, route handlers) of one process.
const KEY = Symbol.for('cronplane.scheduler');
function shared(): SchedulerGlobal {
  const g = globalThis as typeof globalThis & { [KEY]?: SchedulerGlobal };
  g[KEY] ??= {};
  return g[KEY];
}

export { getInstanceId } from '../instance';

const log = logger('scheduler');

export function isSchedulerDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.SCHEDULER_DISABLED?.trim().toLowerCase();
  return value === '1' || value === 'true' || value === 'yes';
}

/**
 * Starts this process's scheduler once (later calls return the same one). Resolves to null on a
 * web-only instance (SCHEDULER_DISABLED=1).
 */
export function startScheduler(options: StartSchedulerOptions = {}): Promise<Scheduler | null> {
  const s = shared();
  s.starting ??= (async () => {
    if (isSchedulerDisabled()) {
      s.disabled = true;
      log.info(`disabled (SCHEDULER_DISABLED): instance ${getInstanceId()} serves the web only`);
      return null;
    }
    if (options.instanceId) setInstanceId(options.instanceId);
    const store = options.store ?? (await getStore());
    const scheduler = new Scheduler(store, getInstanceId(), { ...loadSchedulerConfig(), ...options.config });
    s.scheduler = scheduler;
    await scheduler.start();
    if (options.handleSignals !== false) hookSignals(scheduler);
    return scheduler;
  })().catch((err: unknown) => {
    s.error = err instanceof Error ? err.message : String(err);
    delete s.starting;
    delete s.scheduler;
    throw err;
  });
  return s.starting;
}

/** The running scheduler of this process, if any. */
export function getRunningScheduler(): Scheduler | null {
  const scheduler = shared().scheduler;
  return scheduler?.running ? scheduler : null;
}

/** Stops this process's scheduler gracefully (no exit). */
export async function stopScheduler(graceMs?: number): Promise<void> {
  await shared().scheduler?.stop(graceMs);
}

export function getSchedulerInfo(): SchedulerInfo {
  const s = shared();
  const base = { instanceId: getInstanceId(), store: s.scheduler?.store.description ?? null, error: s.error ?? null, dispatch: null };
  if (s.disabled) return { ...base, running: false, state: 'disabled' };
  if (!s.scheduler) return { ...base, running: false, state: s.error ? 'failed' : 'not-started' };
  const status = s.scheduler.status;
  const dispatch = status === 'running' ? s.scheduler.dispatch : null;
  return { ...base, dispatch, running: status === 'running', state: status === 'created' ? 'starting' : status };
}

/**
 * SIGTERM/SIGINT: stop gracefully, then hand the signal on to the listeners that were there before
 * (Next's own handler closes its server and exits ~30 ms after the signal, which would cut running
 * handlers short). A second SIGINT exits at once.
 */
function hookSignals(scheduler: Scheduler): void {
  const s = shared();
  if (s.signalsHooked) return;
  s.signalsHooked = true;
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const previous = process.listeners(signal);
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) {
        if (signal === 'SIGINT') process.exit(130);
        return;
      }
      stopping = true;
      log.info(`${signal}: stopping instance ${scheduler.instanceId}`);
      scheduler
        .stop()
        .then(
          () => 0,
          (err: unknown) => {
            log.error({ err: errorMessage(err) }, 'graceful stop failed');
            return 1;
          },
        )
        .then((code) => {
          if (previous.length === 0) process.exit(code);
          for (const listener of previous) (listener as (sig: NodeJS.Signals) => void).call(process, signal);
        });
    });
  }
}
