'use client';

import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useRunOutputEvents } from '../../_components/live';

/** A chunk as GET /api/runs/{id}/output answers it (the fields this view uses). */
export interface LiveChunk {
  attempt: number;
  seq: number;
  offset: number;
  text: string;
}

interface OutputAnswer {
  attempt: number;
  live: boolean;
  chunks: LiveChunk[];
}

/** What the view keeps of a long run: its newest characters (the server keeps the run output limit). */
const KEEP_CHARS = 64_000;
/** Without the event stream: how often to read. */
const POLL_MS = 2_000;

interface View {
  attempt: number;
  /** The newest seq shown. */
  seq: number;
  /** Where the text shown ends in the attempt's output. */
  end: number;
  text: string;
}

function gapNote(chars: number): string {
  return `… [${chars} characters omitted] …\n`;
}

function append(view: View, chunks: LiveChunk[]): View {
  let { seq, end, text } = view;
  for (const chunk of [...chunks].sort((a, b) => a.seq - b.seq)) {
    if (chunk.attempt !== view.attempt || chunk.seq <= seq) continue; // already shown (or another attempt's)
    if (chunk.offset > end) text += gapNote(chunk.offset - end);
    text += chunk.text;
    seq = chunk.seq;
    end = chunk.offset + chunk.text.length;
  }
  if (text.length > KEEP_CHARS) {
    const cut = text.indexOf('\n', text.length - KEEP_CHARS);
    text = gapNote(cut + 1) + text.slice(cut + 1);
  }
  return { attempt: view.attempt, seq, end, text };
}

/**
 * A running run's output as it is written, on whichever instance runs it: the server announces new chunks over the
 * shared event stream (`event: output`), this view reads what is new (GET /api/runs/{id}/output?after=<seq>). Once the
 * run ends, the page is refreshed and shows the final output.
 */
export function RunLiveOutput({ runId, attempt, chunks }: { runId: string; attempt: number; chunks: LiveChunk[] }) {
  const router = useRouter();
  const [view, setView] = useState<View>(() => append({ attempt, seq: 0, end: 0, text: '' }, chunks));
  const [ended, setEnded] = useState(false);
  const current = useRef(view);
  const busy = useRef(false);
  const again = useRef(false);

  const read = useCallback(async () => {
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    try {
      do {
        again.current = false;
        const seen = current.current;
        const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/output?after=${seen.seq}`, { cache: 'no-store' });
        if (!response.ok) return;
        const answer = (await response.json()) as OutputAnswer;
        if (!answer.live) {
          setEnded(true);
          router.refresh();
          return;
        }
        let next = seen;
        if (answer.attempt !== seen.attempt) {
          // A new attempt (a retry or a takeover): its output starts over.
          next = { attempt: answer.attempt, seq: 0, end: 0, text: '' };
          if (seen.seq > 0) again.current = true; // read it from its start
        }
        next = append(next, answer.chunks);
        current.current = next;
        setView(next);
      } while (again.current);
    } catch {
      // The next event or poll tries again.
    } finally {
      busy.current = false;
    }
  }, [runId, router]);

  const connection = useRunOutputEvents(runId, () => void read(), !ended);

  useEffect(() => {
    if (ended || connection !== 'polling') return;
    const id = setInterval(() => void read(), POLL_MS);
    return () => clearInterval(id);
  }, [connection, ended, read]);

  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    // Follow the newest line, unless the reader scrolled up.
    const el = pre.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [view.text]);

  return (
    <>
      {view.text ? (
        <pre className="code output live-output" data-testid="run-live-output" ref={pre} aria-live="polite">
          {view.text.replace(/\n$/, '')}
        </pre>
      ) : (
        <p className="muted" data-testid="run-live-output-empty">
          {ended ? 'The run has ended.' : 'No output yet: lines show here as the run writes them.'}
        </p>
      )}
      <p className="muted small">
        {ended
          ? 'The run has ended: loading its final output…'
          : `Live: lines show within about a second of being written (attempt ${view.attempt}). The final output replaces them when the run ends.`}
      </p>
    </>
  );
}
