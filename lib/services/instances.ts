import 'server-only';
import { getStore } from '../store';
import type { Instance } from '../store/types';

/** An instance that has not sent a heartbeat for this long is presumed dead. */
export const LOST_AFTER_MS = 30_000;

/** The window of the instances page's run count. */
export const RUNS_WINDOW_MS = 3_600_000;

export type InstanceState = 'live' | 'lost' | 'stopped';

export interface InstanceView extends Instance {
  state: InstanceState;
  /** Milliseconds since the last heartbeat, by the database clock. */
  silentForMs: number;
}

/**
 * Every known instance with its state. "Lost" is judged against the database clock, the same clock
 * heartbeats are written with, so a skewed web server clock cannot mark live instances lost.
 */
export async function listInstances(): Promise<{ instances: InstanceView[]; now: Date }> {
  const store = await getStore();
  const [instances, now] = await Promise.all([store.listInstances(), store.now()]);
  const views = instances.map((instance): InstanceView => {
    const silentForMs = Math.max(0, now.getTime() - instance.lastSeenAt.getTime());
    const state: InstanceState = instance.stoppedAt ? 'stopped' : silentForMs > LOST_AFTER_MS ? 'lost' : 'live';
    return { ...instance, state, silentForMs };
  });
  // Live first, then by most recently seen: the ones that matter now are on top.
  const rank: Record<InstanceState, number> = { live: 0, lost: 1, stopped: 2 };
  views.sort((a, b) => rank[a.state] - rank[b.state] || b.lastSeenAt.getTime() - a.lastSeenAt.getTime());
  return { instances: views, now };
}

export interface InstanceActivity extends InstanceView {
  /** Runs this instance started in the last RUNS_WINDOW_MS, by the database clock. */
  runsLastHour: number;
}

/**
 * listInstances plus each instance's runs started in the last hour. Separate from listInstances because the
 * live poller calls that every second and does not need the count.
 */
export async function listInstancesWithActivity(): Promise<{ instances: InstanceActivity[]; now: Date }> {
  const store = await getStore();
  const { instances, now } = await listInstances();
  const counts = await store.countRunsByInstance(new Date(now.getTime() - RUNS_WINDOW_MS));
  const byId = new Map(counts.map((c) => [c.instanceId, c.count]));
  return { instances: instances.map((i) => ({ ...i, runsLastHour: byId.get(i.id) ?? 0 })), now };
}
