import 'server-only';
import { getSchedulerInfo, type DispatchMode } from '../scheduler';
import { getStore } from '../store';
import { errorMessage, logger } from '../log';

const PING_TIMEOUT_MS = 3_000;

/** Resolves or rejects within `ms`, so a hung database cannot hang the load balancer's probe. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The full answer, for callers with credentials: the instance id holds the host name and PID, the store's description
 * the embedded cluster's data directory.
 */
export interface Health {
  status: 'ok' | 'degraded';
  instanceId: string | null;
  store: string | null;
  /** This instance's scheduler state: running, disabled (web-only), failed, ... */
  scheduler: string;
  /** How due work reaches this instance: notify (PostgreSQL LISTEN/NOTIFY), change-stream (MongoDB replica set) or polling; null without a running scheduler. */
  dispatch: DispatchMode | null;
  error?: string;
}

/** What anyone may read (a load balancer): ok or degraded, and nothing about the host, the process or the database. */
export type PublicHealth = Pick<Health, 'status'>;

export function publicHealth(health: Health): PublicHealth {
  return { status: health.status };
}

/** Never throws: an unreachable database is "degraded" (the route answers 503), not a crash. */
export async function checkHealth(): Promise<Health> {
  const info = getSchedulerInfo();
  const instanceId = info.instanceId;
  const scheduler = info.state;
  const dispatch = info.dispatch;
  let description: string | null = null;
  try {
    const store = await within(getStore(), PING_TIMEOUT_MS * 3, 'opening the database');
    description = store.description;
    await within(store.ping(), PING_TIMEOUT_MS, 'database ping');
    return { status: 'ok', instanceId, store: description, scheduler, dispatch };
  } catch (err) {
    // Logged for operators; the public answer says only that the database is the problem.
    logger('health').error({ err: errorMessage(err) }, 'database check failed');
    return { status: 'degraded', instanceId, store: description, scheduler, dispatch, error: 'database unreachable' };
  }
}
