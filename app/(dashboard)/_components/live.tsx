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
let source: EventSource | null = null;
let status: Connection = 'connecting';
let fallbackTimer: ReturnType<typeof setTimeout> | null = null;
let reopenTimer: ReturnType<typeof setTimeout> | null = null;
let everOpened = false;

function setStatus(next: Connection) {
  if (status === next) return;
  status = next;
  statusListeners.forEach((l) => l());
}

function open() {
  if (source || typeof EventSource === 'undefined') return;
  const es = new EventSource('/api/events');
  source = es;
  es.addEventListener('open', () => {
    if (fallbackTimer) clearTimeout(fallbackTimer);
    fallbackTimer = null;
    setStatus('live');
    // Whatever changed while the stream was down: one refresh catches up.
    if (everOpened) topicListeners.forEach((l) => l('reconnected'));
    everOpened = true;
  });
  for (const topic of ['jobs', 'runs', 'instances'] as const) {
    es.addEventListener(topic, () => topicListeners.forEach((l) => l(topic)));
  }
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) {
      setStatus('polling');
      es.close();
      source = null;
      reopenTimer ??= setTimeout(() => {
        reopenTimer = null;
        if (topicListeners.size > 0) open();
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
    open();
    return () => {
      topicListeners.delete(onTopic);
      document.removeEventListener('visibilitychange', onVisible);
      if (pending.current) clearTimeout(pending.current);
      pending.current = null;
      if (topicListeners.size === 0) close();
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
