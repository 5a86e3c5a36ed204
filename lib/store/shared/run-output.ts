import type { RunOutputChunk } from '../contract/run-output';

/**
 * The bound of appendRunOutput, the same on every store: a chunk longer than `maxChars` keeps its last `maxChars`
 * characters (its offset moves by what was cut), and the attempt's chunks that start before `cutoff` (the last
 * `maxChars` characters of its output, this chunk's end included) are deleted. Lengths are JavaScript string lengths.
 */
export function boundChunk(
  chunk: Pick<RunOutputChunk, 'offset' | 'text'>,
  maxChars: number,
): { offset: number; text: string; cutoff: number } {
  const max = Math.max(1, Math.floor(maxChars));
  const cut = Math.max(0, chunk.text.length - max);
  const offset = chunk.offset + cut;
  const text = cut > 0 ? chunk.text.slice(cut) : chunk.text;
  return { offset, text, cutoff: offset + text.length - max };
}
