import 'server-only';
import { getStore } from '../store';
import { listInstances } from './instances';
import { errorMessage, logger } from '../log';

const log = logger('live');

export const LIVE_TOPICS = ['jobs', 'runs', 'instances'] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** `output`: new live output of the run a listener watches (its id comes with it). */
export type LiveEvent = LiveTopic | 'output';
export type LiveListener = (topic: LiveEvent, runId?: string) => void;

/** How often the shared poller reads the store. */
export const POLL_INTERVAL_MS = 1_000;
/**
 * While someone watches a run's live output, the poller also reads the watched runs' newest chunks this often (one
 * indexed read for all of them); the fingerprints above stay at POLL_INTERVAL_MS. Nobody watching: no such read.
 */
export const OUTPUT_POLL_INTERVAL_MS = 250;
// The jobs fingerprint covers the first page of the list: enough to see creations, edits and deletions
// anywhere an operator is likely to look, without reading every job each second.
const JOBS_WINDOW = 200;
const RUNNING_WINDOW = 200;

interface Poller {
  listeners: Set<LiveListener>;
  /** The run each output watcher watches. */
  watching: Map<LiveListener, string>;
  timer: ReturnType<typeof setTimeout> | null;
  last: Partial<Record<LiveTopic, string>>;
  /** When the fingerprints were last read (0: not yet). */
  lastPrintsAt: number;
  /** Each watched run's newest chunk ("attempt:seq", "-" for none) as last read; absent: no baseline yet. */
  marks: Map<string, string>;
  polling: boolean;
}

// One poller per process, shared by every connection: route handlers may be bundled into separate
// module instances, globalThis is common to all of them.
const KEY = Symbol.for('cronplane.live.poller');
type G = typeof globalThis & { [KEY]?: Poller };

function poller(): Poller {
  const g = globalThis as G;
  g[KEY] ??= { listeners: new Set(), watching: new Map(), timer: null, last: {}, lastPrintsAt: 0, marks: new Map(), polling: false };
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

function notify(p: Poller, topic: LiveEvent, runId?: string): void {
  for (const listener of p.listeners) {
    if (topic === 'output' && p.watching.get(listener) !== runId) continue;
    try {
      listener(topic, runId);
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'listener failed');
    }
  }
}

/** The watched runs whose newest chunk moved since the last read (a first read of a run only records its baseline). */
async function outputChanges(p: Poller): Promise<string[]> {
  const runIds = [...new Set(p.watching.values())];
  for (const id of p.marks.keys()) if (!runIds.includes(id)) p.marks.delete(id);
  if (runIds.length === 0) return [];
  const store = await getStore();
  const marks = new Map((await store.runOutputMarks(runIds)).map((m) => [m.runId, `${m.attempt}:${m.seq}`]));
  const changed: string[] = [];
  for (const id of runIds) {
    const mark = marks.get(id) ?? '-';
    const before = p.marks.get(id);
    if (before !== undefined && before !== mark) changed.push(id);
    p.marks.set(id, mark);
  }
  return changed;
}

async function tick(p: Poller): Promise<void> {
  if (p.polling) return;
  p.polling = true;
  try {
    const printsDue = Date.now() - p.lastPrintsAt >= POLL_INTERVAL_MS - OUTPUT_POLL_INTERVAL_MS / 2;
    const [prints, changedOutput] = await Promise.all([printsDue ? fingerprints() : null, outputChanges(p)]);
    for (const runId of changedOutput) notify(p, 'output', runId);
    if (prints) {
      p.lastPrintsAt = Date.now();
      const first = Object.keys(p.last).length === 0;
      for (const topic of LIVE_TOPICS) {
        if (!first && p.last[topic] !== prints[topic]) notify(p, topic);
        p.last[topic] = prints[topic];
      }
    }
  } catch (err) {
    // A database hiccup must not kill the stream; the next tick tries again.
    log.error({ err: errorMessage(err) }, 'poll failed');
  } finally {
    p.polling = false;
    if (p.listeners.size > 0) p.timer = setTimeout(() => void tick(p), p.watching.size > 0 ? OUTPUT_POLL_INTERVAL_MS : POLL_INTERVAL_MS);
    else p.timer = null;
  }
}

/**
 * Calls `listener` with each topic that changed; with `watch.run`, also with ('output', runId) when that run's live
 * output has new chunks. Polling runs only while someone listens, and reads live output only while someone watches.
 */
export function subscribe(listener: LiveListener, watch: { run?: string } = {}): () => void {
  const p = poller();
  p.listeners.add(listener);
  if (watch.run) p.watching.set(listener, watch.run);
  if (!p.timer && !p.polling) {
    // A fresh start: no baseline yet, the first read only records one.
    p.last = {};
    p.lastPrintsAt = 0;
    p.marks.clear();
    p.timer = setTimeout(() => void tick(p), 0);
  } else if (watch.run && p.timer) {
    // Output is read more often than the rest: do not leave a new watcher waiting for a whole fingerprint interval.
    clearTimeout(p.timer);
    p.timer = setTimeout(() => void tick(p), 0);
  }
  return () => {
    p.listeners.delete(listener);
    p.watching.delete(listener);
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
