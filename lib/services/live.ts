import 'server-only';
import { getStore } from '../store';
import { listInstances } from './instances';
import { errorMessage, logger } from '../log';

const log = logger('live');

export const LIVE_TOPICS = ['jobs', 'runs', 'instances'] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

export type LiveListener = (topic: LiveTopic) => void;

/** How often the shared poller reads the store. */
export const POLL_INTERVAL_MS = 1_000;
// The jobs fingerprint covers the first page of the list: enough to see creations, edits and deletions
// anywhere an operator is likely to look, without reading every job each second.
const JOBS_WINDOW = 200;
const RUNNING_WINDOW = 200;

interface Poller {
  listeners: Set<LiveListener>;
  timer: ReturnType<typeof setTimeout> | null;
  last: Partial<Record<LiveTopic, string>>;
  polling: boolean;
}

// One poller per process, shared by every connection: route handlers may be bundled into separate
// module instances, globalThis is common to all of them.
const KEY = Symbol.for('cronplane.live.poller');
type G = typeof globalThis & { [KEY]?: Poller };

function poller(): Poller {
  const g = globalThis as G;
  g[KEY] ??= { listeners: new Set(), timer: null, last: {}, polling: false };
  return g[KEY];
}

/**
 * Cheap fingerprints of what the dashboard shows. Each is a string that changes when something an
 * operator would see changes; the events carry no data, the pages re-read what they need.
 */
async function fingerprints(): Promise<Record<LiveTopic, string>> {
  const store = await getStore();
  const [newest, running, jobs, instances] = await Promise.all([
    store.listRuns({ limit: 5 }),
    store.listRuns({ limit: RUNNING_WINDOW, status: 'running' }),
    store.listJobs({ limit: JOBS_WINDOW }),
    listInstances(),
  ]);
  // New runs show at the top; a run finishing leaves the running set (its status at the top changes too).
  const runs = [
    newest.items.map((r) => `${r.id}:${r.status}:${r.attempt}`).join(','),
    running.items.map((r) => `${r.id}:${r.attempt}`).join(','),
  ].join('|');
  const jobsPrint = jobs.items
    .map(
      (j) =>
        `${j.id}:${j.version}:${j.paused ? 1 : 0}:${j.nextRunAt?.getTime() ?? '-'}:${j.updatedAt.getTime()}:${j.lastRun?.id ?? '-'}:${j.lastRun?.status ?? '-'}`,
    )
    .join(',');
  // lastSeenAt moves with each heartbeat, which is what the instances page shows ("seen 2 s ago").
  const instancesPrint = instances.instances.map((i) => `${i.id}:${i.state}:${i.lastSeenAt.getTime()}:${i.version}`).join(',');
  return { jobs: jobsPrint, runs, instances: instancesPrint };
}

async function tick(p: Poller): Promise<void> {
  if (p.polling) return;
  p.polling = true;
  try {
    const prints = await fingerprints();
    const first = Object.keys(p.last).length === 0;
    for (const topic of LIVE_TOPICS) {
      if (!first && p.last[topic] !== prints[topic]) {
        for (const listener of p.listeners) {
          try {
            listener(topic);
          } catch (err) {
            log.error({ err: errorMessage(err) }, 'listener failed');
          }
        }
      }
      p.last[topic] = prints[topic];
    }
  } catch (err) {
    // A database hiccup must not kill the stream; the next tick tries again.
    log.error({ err: errorMessage(err) }, 'poll failed');
  } finally {
    p.polling = false;
    if (p.listeners.size > 0) p.timer = setTimeout(() => void tick(p), POLL_INTERVAL_MS);
    else p.timer = null;
  }
}

/** Calls `listener` with each topic that changed. Polling runs only while someone listens. */
export function subscribe(listener: LiveListener): () => void {
  const p = poller();
  p.listeners.add(listener);
  if (!p.timer && !p.polling) {
    // A fresh start: no baseline yet, the first read only records one.
    p.last = {};
    p.timer = setTimeout(() => void tick(p), 0);
  }
  return () => {
    p.listeners.delete(listener);
    if (p.listeners.size === 0 && p.timer) {
      clearTimeout(p.timer);
      p.timer = null;
    }
  };
}

/** For tests and diagnostics: how many connections listen in this process. */
export function listenerCount(): number {
  return poller().listeners.size;
}

/** For tests and diagnostics: whether a store read is scheduled or under way. */
export function isPolling(): boolean {
  const p = poller();
  return p.timer !== null || p.polling;
}
