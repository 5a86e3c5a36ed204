import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunOutputChunk, Store } from '../../../lib/store/types';
import { at, freshStoreEachTest, newJob, newRun, T, type Open } from './support';

/** A chunk of `lines` whole lines, placed after `offset` characters of its attempt's output. */
function chunk(runId: string, attempt: number, seq: number, offset: number, text: string): RunOutputChunk {
  return { runId, attempt, seq, offset, text, at: at(60, seq) };
}

/** The text a reader shows: the chunks joined, in order. */
const joined = (chunks: RunOutputChunk[]): string => chunks.map((c) => c.text).join('');

export function runOutputConformance(open: Open): void {
  describe('live output (run output chunks)', () => {
    let store: Store;
    freshStoreEachTest(open, (fresh) => {
      store = fresh.store;
    });

    async function aRun(scheduledAt = 60): Promise<string> {
      const job = await store.createJob(newJob());
      const run = await store.insertRun(newRun(job, { scheduledFor: at(scheduledAt) }));
      return run!.id;
    }

    it('keeps an attempt’s chunks in seq order, lists after a seq, refuses a seq twice', T, async () => {
      const id = await aRun();
      const other = await aRun(120);
      // Written out of order (a slow flush): read back in seq order.
      assert.equal(await store.appendRunOutput(chunk(id, 1, 2, 6, 'two\n'), 1000), true);
      assert.equal(await store.appendRunOutput(chunk(id, 1, 1, 0, 'zero\none\n'), 1000), true);
      assert.equal(await store.appendRunOutput(chunk(id, 1, 3, 10, 'three\n'), 1000), true);
      assert.equal(await store.appendRunOutput(chunk(other, 1, 1, 0, 'elsewhere\n'), 1000), true);
      assert.equal(await store.appendRunOutput(chunk(id, 1, 2, 6, 'again\n'), 1000), false, 'a seq is written once');
      const all = await store.listRunOutput(id);
      assert.deepEqual(
        all.map((c) => [c.attempt, c.seq, c.offset]),
        [
          [1, 1, 0],
          [1, 2, 6],
          [1, 3, 10],
        ],
      );
      assert.equal(joined(all), 'zero\none\ntwo\nthree\n');
      assert.equal(all[0]!.runId, id);
      assert.equal(all[1]!.at.getTime(), at(60, 2).getTime());
      assert.deepEqual(
        (await store.listRunOutput(id, 1)).map((c) => c.seq),
        [2, 3],
        'after a seq',
      );
      assert.deepEqual(await store.listRunOutput(id, 3), []);
      assert.deepEqual(await store.listRunOutput('00000000-0000-4000-8000-000000000000'), []);
      assert.deepEqual(await store.listRunOutput('not-an-id'), []);
      const marks = await store.runOutputMarks([id, other, '00000000-0000-4000-8000-000000000000', 'not-an-id']);
      assert.deepEqual(marks.map((m) => `${m.runId === id ? 'run' : 'other'}:${m.attempt}:${m.seq}`).sort(), ['other:1:1', 'run:1:3']);
    });

    it('keeps at most maxChars characters per run: the oldest chunks go first, a long chunk keeps its tail', T, async () => {
      const id = await aRun();
      const max = 25;
      let offset = 0;
      const written: string[] = [];
      for (let seq = 1; seq <= 12; seq++) {
        const text = `line ${String(seq).padStart(2, '0')}\n`; // 8 characters
        assert.equal(await store.appendRunOutput(chunk(id, 1, seq, offset, text), max), true);
        written.push(text);
        offset += text.length;
        const kept = await store.listRunOutput(id);
        const total = kept.reduce((n, c) => n + c.text.length, 0);
        assert.ok(total <= max, `at most ${max} characters kept (${total} after seq ${seq})`);
        assert.equal(kept.at(-1)!.seq, seq, 'the newest chunk is always kept');
        // What is kept is the tail of what was written: contiguous, in order.
        assert.ok(written.join('').endsWith(joined(kept)));
        for (let i = 1; i < kept.length; i++) assert.equal(kept[i]!.offset, kept[i - 1]!.offset + kept[i - 1]!.text.length);
      }
      assert.deepEqual(
        (await store.listRunOutput(id)).map((c) => c.seq),
        [10, 11, 12],
        'three 8-character chunks fit in 25',
      );
      // One chunk past the limit on its own: its last maxChars characters, its offset moved by the cut.
      const long = 'x'.repeat(40) + 'the end\n';
      assert.equal(await store.appendRunOutput(chunk(id, 1, 13, offset, long), max), true);
      const kept = await store.listRunOutput(id);
      assert.deepEqual(
        kept.map((c) => [c.seq, c.offset, c.text]),
        [[13, offset + long.length - max, long.slice(-max)]],
      );
    });

    it('a later attempt replaces the earlier attempts’ chunks; deleting a run’s output or the run removes them', T, async () => {
      const id = await aRun();
      const other = await aRun(120);
      await store.appendRunOutput(chunk(id, 1, 1, 0, 'first attempt\n'), 1000);
      await store.appendRunOutput(chunk(id, 1, 2, 14, 'more\n'), 1000);
      await store.appendRunOutput(chunk(other, 1, 1, 0, 'kept\n'), 1000);
      assert.equal(joined(await store.listRunOutput(id)), 'first attempt\nmore\n');
      await store.appendRunOutput(chunk(id, 2, 1, 0, 'second attempt\n'), 1000);
      assert.deepEqual(
        (await store.listRunOutput(id)).map((c) => [c.attempt, c.seq, c.text]),
        [[2, 1, 'second attempt\n']],
      );
      assert.deepEqual(
        (await store.runOutputMarks([id])).map((m) => [m.attempt, m.seq]),
        [[2, 1]],
      );
      assert.equal(await store.deleteRunOutput(id), 1);
      assert.deepEqual(await store.listRunOutput(id), []);
      assert.deepEqual(await store.runOutputMarks([id]), []);
      assert.equal(await store.deleteRunOutput(id), 0);
      assert.equal(joined(await store.listRunOutput(other)), 'kept\n', 'another run keeps its output');

      // Pruning a finished run deletes what live output it still had.
      await store.updateRun(other, { status: 'succeeded', finishedAt: at(121) });
      assert.equal(await store.pruneRuns(at(1000), 10), 1);
      assert.deepEqual(await store.listRunOutput(other), []);
      assert.deepEqual(await store.runOutputMarks([other]), []);
    });
  });
}
