'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';

export type LiveTopic = 'jobs' | 'runs' | 'instances';
type Connection = 'connecting' | 'live' | 'polling';

/** After a drop, how long the stream may take to come back before pages poll instead. */
const FALLBACK_AFTER_MS = 4_000;
const POLL_EVERY_MS = 5_000;
/** A closed stream (e.g. a 401 or 5xx answer) is not retried by the browser: we retry this often. */
const REOPEN_AFTER_MS = 15_000;
const DEBOUNCE_MS = 250;

// One EventSource per tab, shared by every component that listens: browsers cap connections per host.
const topicListeners = new Set<(topic: LiveTopic | 'reconnected') => void>();
const statusListeners = new Set<() => void>();
/** Watchers of a run's live output: the stream is opened with `?run=<id>` (one run per tab: the first watched). */
const outputWatchers = new Map<(event: 'output' | 'opened') => void, string>();
let source: EventSource | null = null;
/** The URL `source` was opened with. */
let sourceUrl: string | null = null;
let syncQueued = false;
let status: Connection = 'connecting';
let fallbackTimer: ReturnType<typeof setTimeout> | null = null;
let reopenTimer: ReturnType<typeof setTimeout> | null = null;
let everOpened = false;

function setStatus(next: Connection) {
  if (status === next) return;
  status = next;
  statusListeners.forEach((l) => l());
}

function wantedUrl(): string | null {
  if (topicListeners.size === 0 && outputWatchers.size === 0) return null;
  const run = outputWatchers.values().next().value;
  return run ? `/api/events?run=${encodeURIComponent(run)}` : '/api/events';
}

/**
 * Opens, reopens (another run to watch) or closes the shared stream to match its listeners; queued, so that every
 * component of one render registers before the stream opens.
 */
function sync() {
  if (syncQueued) return;
  syncQueued = true;
  queueMicrotask(() => {
    syncQueued = false;
    const url = wantedUrl();
    if (url === sourceUrl && source) return;
    if (url === null) return close();
    if (source) {
      source.close();
      source = null;
    }
    open(url);
  });
}

function open(url: string) {
  if (source || typeof EventSource === 'undefined') return;
  const es = new EventSource(url);
  source = es;
  sourceUrl = url;
  es.addEventListener('open', () => {
    if (fallbackTimer) clearTimeout(fallbackTimer);
    fallbackTimer = null;
    setStatus('live');
    // Whatever changed while the stream was down: one refresh catches up.
    if (everOpened) topicListeners.forEach((l) => l('reconnected'));
    everOpened = true;
    // Output written before this stream watched it: each watcher reads what it missed.
    outputWatchers.forEach((_run, l) => l('opened'));
  });
  for (const topic of ['jobs', 'runs', 'instances'] as const) {
    es.addEventListener(topic, () => topicListeners.forEach((l) => l(topic)));
  }
  es.addEventListener('output', (event) => {
    let runId: unknown;
    try {
      runId = (JSON.parse(String((event as MessageEvent).data)) as { runId?: unknown }).runId;
    } catch {
      return;
    }
    outputWatchers.forEach((run, l) => {
      if (run === runId) l('output');
    });
  });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) {
      setStatus('polling');
      es.close();
      source = null;
      reopenTimer ??= setTimeout(() => {
        reopenTimer = null;
        sync();
      }, REOPEN_AFTER_MS);
      return;
    }
    // CONNECTING: the browser retries by itself; poll only if that takes a while.
    fallbackTimer ??= setTimeout(() => {
      fallbackTimer = null;
      if (source?.readyState !== EventSource.OPEN) setStatus('polling');
    }, FALLBACK_AFTER_MS);
  });
}

function close() {
  source?.close();
  source = null;
  sourceUrl = null;
  if (fallbackTimer) clearTimeout(fallbackTimer);
  if (reopenTimer) clearTimeout(reopenTimer);
  fallbackTimer = reopenTimer = null;
  everOpened = false;
  setStatus('connecting');
}

function subscribeStatus(listener: () => void) {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}

/**
 * Re-renders the server page (router.refresh, debounced) when the server reports a change in one of
 * `topics`; polls every 5 s while the event stream is unavailable. Returns the connection state.
 */
export function useLiveRefresh(topics: readonly LiveTopic[], enabled = true): Connection {
  const router = useRouter();
  const connection = useSyncExternalStore(
    subscribeStatus,
    () => status,
    () => 'connecting' as Connection,
  );
  const key = topics.join(',');
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    if (!enabled) return;
    const wanted = new Set(key.split(','));
    let stale = false;
    const refresh = () => {
      // Hidden tabs need no fresh data: remember, and catch up when shown again.
      if (document.visibilityState !== 'visible') {
        stale = true;
        return;
      }
      if (pending.current) return;
      pending.current = setTimeout(() => {
        pending.current = null;
        router.refresh();
      }, DEBOUNCE_MS);
    };
    const onTopic = (topic: LiveTopic | 'reconnected') => {
      if (topic === 'reconnected' || wanted.has(topic)) refresh();
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible' && stale) {
        stale = false;
        refresh();
      }
    };
    topicListeners.add(onTopic);
    document.addEventListener('visibilitychange', onVisible);
    sync();
    return () => {
      topicListeners.delete(onTopic);
      document.removeEventListener('visibilitychange', onVisible);
      if (pending.current) clearTimeout(pending.current);
      pending.current = null;
      sync();
    };
  }, [key, enabled, router]);

  useEffect(() => {
    if (!enabled || connection !== 'polling') return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') router.refresh();
    }, POLL_EVERY_MS);
    return () => clearInterval(id);
  }, [connection, enabled, router]);

  return connection;
}

/**
 * Calls `onOutput` when the run has new live output ('output'), and each time the stream (re)opens ('opened': read what
 * may have been missed). Returns the connection state; 'polling' means the stream is unavailable: poll instead.
 */
export function useRunOutputEvents(runId: string, onOutput: (event: 'output' | 'opened') => void, enabled = true): Connection {
  const connection = useSyncExternalStore(
    subscribeStatus,
    () => status,
    () => 'connecting' as Connection,
  );
  const latest = useRef(onOutput);
  useEffect(() => {
    latest.current = onOutput;
  }, [onOutput]);
  useEffect(() => {
    if (!enabled) return;
    const listener = (event: 'output' | 'opened') => latest.current(event);
    outputWatchers.set(listener, runId);
    sync();
    return () => {
      outputWatchers.delete(listener);
      sync();
    };
  }, [runId, enabled]);
  return connection;
}

/** The page's live-update switch and indicator: "Live" (pushed), "Polling" (fallback), "Paused". */
export function LiveRefresh({ topics }: { topics: readonly LiveTopic[] }) {
  const [on, setOn] = useState(true);
  const connection = useLiveRefresh(topics, on);
  const state = !on ? 'paused' : connection;
  const label = state === 'live' ? 'Live' : state === 'polling' ? 'Polling' : state === 'paused' ? 'Paused' : 'Connecting';
  const title =
    state === 'live'
      ? 'Changes show up as they happen. Click to pause.'
      : state === 'polling'
        ? 'The live stream is unavailable: refreshing every 5 s. Click to pause.'
        : state === 'paused'
          ? 'Live updates paused. Click to resume.'
          : 'Connecting to live updates…';
  return (
    <button
      type="button"
      className="btn btn-ghost btn-sm live"
      data-live={state}
      aria-pressed={on}
      title={title}
      onClick={() => setOn(!on)}
    >
      <span className="live-dot" aria-hidden="true" />
      {label}
    </button>
  );
}
