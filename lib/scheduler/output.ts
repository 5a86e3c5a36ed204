import 'server-only';
import { cutLine, type JobContext } from '../jobs/define';
import type { RunOutputStore } from '../store/types';

/**
 * Collects a run's log lines into a bounded excerpt: the first and the last `limit / 2` characters,
 * so a chatty handler can neither blow up the runs table nor hide how it started or how it ended.
 */
export class OutputBuffer {
  private head = '';
  private tail = '';
  private omitted = 0;
  private readonly half: number;

  constructor(limit: number) {
    this.half = Math.max(1, Math.floor(limit / 2));
  }

  append(line: string): void {
    let text = `${line}\n`;
    if (this.head.length < this.half) {
      const room = this.half - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (!text) return;
    this.tail += text;
    if (this.tail.length > this.half) {
      this.omitted += this.tail.length - this.half;
      this.tail = this.tail.slice(this.tail.length - this.half);
    }
  }

  /** The excerpt, or null when nothing was logged. */
  toString(): string | null {
    if (!this.head && !this.tail) return null;
    const gap = this.omitted > 0 ? `… [${this.omitted} characters omitted] …\n` : '';
    return `${this.head}${gap}${this.tail}`.replace(/\n$/, '');
  }
}

/** Where a live writer puts its chunks, and where its failures go. */
export interface LiveOutputTarget {
  store: Pick<RunOutputStore, 'appendRunOutput'>;
  now(): Date;
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * A running attempt's live output: the lines logged since the last flush are written as one chunk about every
 * `flushMs` (one write per flush, none when nothing was logged), so any instance can show them while the run runs.
 * Best effort: a failed write is logged and its lines are tried again with the next flush (kept within `limit`
 * characters: past that only the tail is kept, and the chunk's offset shows the gap); the handler never waits for it.
 * The lines are what the excerpt gets (already scrubbed and cut by the context), so a chunk never holds more than the
 * final output could.
 */
export class LiveOutput {
  private pending = '';
  /** Characters of the attempt's output before `pending` (written, or dropped by the bound). */
  private offset = 0;
  private seq = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private inflight: Promise<void> | null = null;
  private closed = false;
  private failures = 0;
  private wrote = false;

  constructor(
    private readonly target: LiveOutputTarget,
    private readonly runId: string,
    private readonly attempt: number,
    private readonly limit: number,
    private readonly flushMs: number,
  ) {}

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref?.();
  }

  append(line: string): void {
    if (this.closed) return;
    // PostgreSQL text cannot hold NUL: such a line would fail its whole chunk.
    this.pending += `${line.replaceAll('\u0000', '\uFFFD')}\n`;
    if (this.pending.length > this.limit) {
      const drop = this.pending.length - this.limit;
      this.pending = this.pending.slice(drop);
      this.offset += drop;
    }
  }

  /** Writes what was logged since the last flush as one chunk; nothing when nothing was, or a write is under way. */
  flush(): Promise<void> {
    if (this.inflight || !this.pending || this.closed) return this.inflight ?? Promise.resolve();
    const text = this.pending;
    const chunk = { runId: this.runId, attempt: this.attempt, seq: this.seq + 1, offset: this.offset, text, at: this.target.now() };
    this.pending = '';
    this.wrote = true;
    const write = async (): Promise<void> => {
      try {
        await this.target.store.appendRunOutput(chunk, this.limit);
        this.seq = chunk.seq;
        this.offset += text.length;
        this.failures = 0;
      } catch (err) {
        // Tried again with the next flush, ahead of what was logged since (within the bound).
        this.pending = text + this.pending;
        if (this.pending.length > this.limit) {
          const drop = this.pending.length - this.limit;
          this.pending = this.pending.slice(drop);
          this.offset += drop;
        }
        // One warning per run of failures, not one per flush.
        if (this.failures++ === 0)
          this.target.warn({ runId: this.runId, err: err instanceof Error ? err.message : String(err) }, 'could not write live output');
      } finally {
        this.inflight = null;
      }
    };
    this.inflight = write();
    return this.inflight;
  }

  /**
   * Whether a chunk write was ever started (it may have committed even if it failed): only then can the run have live
   * chunks of this attempt to delete afterwards. Most runs end before their first flush, and write nothing.
   */
  get wroteAny(): boolean {
    return this.wrote;
  }

  /**
   * Stops flushing and ignores later lines (the handler is over, or the run is no longer this instance's). Waits at
   * most `waitMs` for a write under way, so that a run's final output is not overtaken by a late chunk of it.
   */
  async close(waitMs = 1_000): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const inflight = this.inflight;
    if (!inflight) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([inflight, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }
}

/**
 * The context's log (JobContext.log): each line cut (maxChars; the scrubbing wrapper around every handler scrubbed it
 * whole before) goes to the excerpt and, the same text, to the live output; a `liveOnly` line to the live output alone.
 */
export function contextLog(output: OutputBuffer, live: LiveOutput): JobContext['log'] {
  return (line, options) => {
    const text = cutLine(String(line), options?.maxChars);
    if (!options?.liveOnly) output.append(text);
    live.append(text);
  };
}
