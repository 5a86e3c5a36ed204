// Live output: a running attempt's log lines, written in chunks while it runs (lib/scheduler/output.ts flushes them)
// so that any instance can show them; bounded per run, and gone once the run's final output excerpt is written.

/** One flush of an attempt's log lines. Chunks of an attempt are contiguous pieces of its output, in `seq` order. */
export interface RunOutputChunk {
  runId: string;
  attempt: number;
  /** 1, 2, … within the attempt, in the order written. */
  seq: number;
  /**
   * Characters of the attempt's output before this chunk. A chunk whose offset is past the end of the one before it
   * (or a first chunk past 0) follows a gap: those characters were dropped by the bound.
   */
  offset: number;
  /** Whole lines, each ending with "\n"; already scrubbed of the payload's secrets and cut as the excerpt is. */
  text: string;
  /** When it was written (the writer's database clock). */
  at: Date;
}

/** Where a run's live output stands: its newest chunk. */
export interface RunOutputMark {
  runId: string;
  attempt: number;
  seq: number;
}

export interface RunOutputStore {
  /**
   * Writes one chunk (one write) and keeps the run within `maxChars` (>= 1) characters of live output: deletes the
   * chunks of the run's earlier attempts (they are over) and the chunks of this attempt that start before the last
   * `maxChars` characters of its output (offset < chunk.offset + chunk.text.length - maxChars). A chunk longer than
   * `maxChars` keeps its last `maxChars` characters (its offset moves by what was cut). False, writing nothing, when
   * the attempt already has a chunk with this seq, or (where the store can tell) the run does not exist.
   */
  appendRunOutput(chunk: RunOutputChunk, maxChars: number): Promise<boolean>;
  /**
   * The run's live output: the chunks of its newest attempt that has any, in seq order, only those with seq > afterSeq
   * when given (afterSeq applies to that attempt). [] when the run has none.
   */
  listRunOutput(runId: string, afterSeq?: number): Promise<RunOutputChunk[]>;
  /** The newest chunk of each of the runs (at most 100 ids); runs without chunks are absent. Order unspecified. */
  runOutputMarks(runIds: readonly string[]): Promise<RunOutputMark[]>;
  /** Deletes the run's chunks (every attempt); returns how many. Deleting a run (pruneRuns) deletes its chunks too. */
  deleteRunOutput(runId: string): Promise<number>;
}
