import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveOutput, type LiveOutputTarget } from '../../lib/scheduler/output';
import type { RunOutputChunk } from '../../lib/store/types';

function target(fail: () => boolean = () => false) {
  const chunks: RunOutputChunk[] = [];
  const warnings: string[] = [];
  let writes = 0;
  const t: LiveOutputTarget = {
    store: {
      appendRunOutput: async (chunk) => {
        writes++;
        if (fail()) throw new Error('database away');
        chunks.push(chunk);
        return true;
      },
    },
    now: () => new Date(0),
    warn: (_fields, message) => warnings.push(message),
  };
  return { t, chunks, warnings, writes: () => writes };
}

describe('LiveOutput (the live writer of a running attempt)', () => {
  it('writes the lines logged since the last flush as one chunk, nothing when nothing was logged', async () => {
    const { t, chunks, writes } = target();
    const live = new LiveOutput(t, 'run-1', 2, 1000, 60_000);
    await live.flush();
    assert.equal(writes(), 0, 'no write without lines');
    live.append('one');
    live.append('two');
    live.append('three');
    await live.flush();
    assert.equal(writes(), 1, 'one write for three lines');
    await live.flush();
    assert.equal(writes(), 1);
    live.append('four');
    await live.flush();
    assert.deepEqual(
      chunks.map((c) => [c.runId, c.attempt, c.seq, c.offset, c.text]),
      [
        ['run-1', 2, 1, 0, 'one\ntwo\nthree\n'],
        ['run-1', 2, 2, 14, 'four\n'],
      ],
    );
  });

  it('says whether it wrote: a run that ends before its first flush wrote nothing (no chunks to delete afterwards)', async () => {
    const quiet = target();
    const short = new LiveOutput(quiet.t, 'run-1', 1, 1000, 60_000);
    short.start();
    short.append('logged, then the run ended at once');
    await short.close();
    assert.equal(short.wroteAny, false);
    assert.equal(quiet.writes(), 0);
    const failing = target(() => true);
    const tried = new LiveOutput(failing.t, 'run-2', 1, 1000, 60_000);
    tried.append('a line');
    await tried.flush();
    await tried.close();
    assert.equal(tried.wroteAny, true, 'a failed write may still have committed: it counts');
  });

  it('flushes on its own about every flushMs while started, and not after close', async () => {
    const { t, chunks } = target();
    const live = new LiveOutput(t, 'run-1', 1, 1000, 50);
    live.start();
    live.append('a');
    const deadline = Date.now() + 2_000;
    while (chunks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(chunks.length, 1);
    await live.close();
    live.append('late');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(chunks.length, 1, 'nothing written after close');
  });

  it('a failed write is logged once and its lines go with the next flush; the pending text stays within the limit', async () => {
    let failing = true;
    const { t, chunks, warnings } = target(() => failing);
    const live = new LiveOutput(t, 'run-1', 1, 20, 60_000);
    live.append('12345');
    await live.flush();
    live.append('abcde');
    await live.flush();
    assert.equal(warnings.length, 1, 'one warning for a run of failures');
    assert.equal(chunks.length, 0);
    failing = false;
    live.append('ABCDE');
    live.append('xyz');
    await live.flush();
    // 6 + 6 + 6 + 4 = 22 characters pending, limit 20: the oldest 2 are dropped, and the offset says so.
    assert.deepEqual(
      chunks.map((c) => [c.seq, c.offset, c.text]),
      [[1, 2, '345\nabcde\nABCDE\nxyz\n']],
    );
  });

  it('replaces NUL, which PostgreSQL text cannot hold', async () => {
    const { t, chunks } = target();
    const live = new LiveOutput(t, 'run-1', 1, 100, 60_000);
    live.append('a\u0000b');
    await live.flush();
    assert.equal(chunks[0]!.text, 'a\uFFFDb\n');
  });
});
