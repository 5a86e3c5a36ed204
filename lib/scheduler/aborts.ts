import 'server-only';

/** Abort reason when a stopping instance gives up on a handler after its grace period. */
export class ShutdownAbort extends Error {
  constructor(instanceId: string) {
    super(`instance ${instanceId} shut down before the run finished`);
    this.name = 'ShutdownAbort';
  }
}

/** Abort reason when this instance can no longer renew a run's lease (database unreachable, or taken over). */
export class LeaseLost extends Error {
  constructor(instanceId: string) {
    super(`instance ${instanceId} lost the run's lease`);
    this.name = 'LeaseLost';
  }
}

/**
 * Abort reason when a cancel was requested for the run (Store.cancelRun; delivered by the store's watch or the lease
 * renewal): the owner records 'cancelled' under its owner guard, with no further attempt.
 */
export class CancelAbort extends Error {
  constructor(instanceId: string) {
    super(`cancelled on request: the handler was aborted on instance ${instanceId}`);
    this.name = 'CancelAbort';
  }
}

/** Abort reason when a run exceeds job.timeoutSeconds. */
export class TimeoutAbort extends Error {
  constructor(seconds: number) {
    super(`exceeded its timeout of ${seconds}s`);
    this.name = 'TimeoutAbort';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A deadline for Promise.race that does not keep the process alive once the race is decided. */
export const deadline = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Sleeps `ms`, or less if one of the signals is aborted first. */
export function pause(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

/** Calls `fn` until it succeeds, every 250 ms; rethrows once `signal` is aborted. */
export async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw err;
      await sleep(250);
    }
  }
}
