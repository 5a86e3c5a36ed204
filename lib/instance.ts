import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

// On globalThis: Next loads modules in several bundles (instrumentation, route handlers) of one process.
const KEY = Symbol.for('cronplane.instance-id');

/** This process's instance id, stable for its lifetime: env INSTANCE_ID, else `${hostname}-${pid}-${random}`. */
export function getInstanceId(): string {
  const g = globalThis as typeof globalThis & { [KEY]?: string };
  g[KEY] ??= process.env.INSTANCE_ID?.trim() || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return g[KEY];
}

/** Fixes this process's instance id before anything asked for it (tests starting a scheduler under a given id). */
export function setInstanceId(id: string): void {
  (globalThis as typeof globalThis & { [KEY]?: string })[KEY] = id;
}
