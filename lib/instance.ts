import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

// On globalThis: Next loads modules in several bundles (instrumentation, route handlers) of one process. Beside the
// process's scheduler state (lib/scheduler/index.ts), where it has always lived.
const KEY = Symbol.for('cronplane.scheduler');

function shared(): { instanceId?: string } {
  const g = globalThis as typeof globalThis & { [KEY]?: { instanceId?: string } };
  g[KEY] ??= {};
  return g[KEY];
}

/** This process's instance id, stable for its lifetime: env INSTANCE_ID, else `${hostname}-${pid}-${random}`. */
export function getInstanceId(): string {
  const s = shared();
  s.instanceId ??= process.env.INSTANCE_ID?.trim() || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return s.instanceId;
}

/** Fixes this process's instance id (tests starting a scheduler under a given id). */
export function setInstanceId(id: string): void {
  shared().instanceId = id;
}
