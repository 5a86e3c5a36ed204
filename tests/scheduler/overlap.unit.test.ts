/**
 * The overlap policy and the concurrency limit as a pure decision (lib/scheduler/overlap.ts decideTurn): which run may
 * call its handler now, which is skipped and why, which waits. No database.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideTurn, precedes } from '../../lib/scheduler/overlap';
import type { Job } from '../../lib/store/types';

const T0 = Date.parse('2026-12-06T10:00:00.000Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const run = (id: string, due: number, started: number | null) => ({
  id,
  scheduledFor: at(due),
  startedAt: started === null ? null : at(started),
});
const job = (overlapPolicy: Job['overlapPolicy'], concurrencyLimit: number | null = null) => ({ overlapPolicy, concurrencyLimit });
const NOW = at(100);

describe('decideTurn', () => {
  test('allow without a limit: always go', () => {
    assert.deepEqual(decideTurn(job('allow'), run('b', 10, 10), [run('a', 0, 0)], NOW), { kind: 'go' });
  });

  test('skip: a run that started first wins; the later one is skipped, naming it', () => {
    const turn = decideTurn(job('skip'), run('b', 10, 10), [run('a', 0, 0)], NOW);
    assert.deepEqual(turn, { kind: 'skip', reason: `skipped: the run due at ${at(0).toISOString()} was still running` });
    // The one that started first goes, whatever the other one sees.
    assert.deepEqual(decideTurn(job('skip'), run('a', 0, 0), [run('b', 10, 10)], NOW), { kind: 'go' });
    // Same start: the smaller id is first.
    assert.equal(decideTurn(job('skip'), run('a', 10, 10), [run('b', 10, 10)], NOW).kind, 'go');
    assert.equal(decideTurn(job('skip'), run('b', 10, 10), [run('a', 10, 10)], NOW).kind, 'skip');
    // A queued (not started) run does not hold a skip job back.
    assert.equal(decideTurn(job('skip'), run('b', 10, 10), [run('a', 0, null)], NOW).kind, 'go');
  });

  test('queue-one: wait for an earlier occurrence; skipped when another already waits ahead', () => {
    assert.deepEqual(decideTurn(job('queue-one'), run('b', 10, null), [run('a', 0, 0)], NOW), { kind: 'wait' });
    assert.deepEqual(decideTurn(job('queue-one'), run('b', 10, null), [], NOW), { kind: 'go' });
    const behind = decideTurn(job('queue-one'), run('c', 20, null), [run('a', 0, 0), run('b', 10, null)], NOW);
    assert.deepEqual(behind, { kind: 'skip', reason: `skipped: the run due at ${at(10).toISOString()} was already queued` });
  });

  test('queue-one: a later occurrence never holds an earlier one back, so two runs can never wait for each other', () => {
    // After two takeovers: the earlier occurrence's run is started again while the later one had started already.
    assert.deepEqual(decideTurn(job('queue-one'), run('a', 0, 50), [run('b', 10, 40)], NOW), { kind: 'go' });
    assert.deepEqual(decideTurn(job('queue-one'), run('b', 10, 40), [run('a', 0, 50)], NOW), { kind: 'wait' });
  });

  test('replace: every earlier occurrence (running or waiting) is to be cancelled, with its request if made; then go', () => {
    const cancel = { at: at(5), by: { type: 'system' as const, id: null, name: 'replace' }, reason: 'replaced' };
    assert.deepEqual(decideTurn(job('replace'), run('c', 20, null), [run('a', 0, 0), { ...run('b', 10, null), cancel }], NOW), {
      kind: 'replace',
      runs: [
        { id: 'a', cancel: null },
        { id: 'b', cancel },
      ],
    });
    assert.deepEqual(decideTurn(job('replace'), run('c', 20, null), [], NOW), { kind: 'go' }, 'once they have stopped');
    // A later occurrence is not replaced by an earlier one, and the concurrency limit does not hold a replacement back.
    assert.deepEqual(decideTurn(job('replace', 1), run('a', 0, null), [run('b', 10, 10)], NOW), { kind: 'go' });
    assert.equal(decideTurn(job('replace', 1), run('b', 10, null), [run('a', 0, 0)], NOW).kind, 'replace');
  });

  test('concurrency limit: only the runs that started first count; allow skips over the limit, queue-one waits', () => {
    const others = [run('a', 0, 1), run('b', 0.5, 2), run('z', 3, 9)];
    assert.deepEqual(decideTurn(job('allow', 2), run('c', 1, 3), others, NOW), {
      kind: 'skip',
      reason: 'skipped: concurrency limit of 2 running run(s) reached',
    });
    assert.deepEqual(decideTurn(job('allow', 3), run('c', 1, 3), others, NOW), { kind: 'go' }, 'z started after c: it does not count');
    assert.deepEqual(decideTurn(job('queue-one', 1), run('c', 1, null), [run('a', 0, 1)], NOW), { kind: 'wait' });
    assert.equal(decideTurn(job('skip', 5), run('c', 1, 3), others, NOW).kind, 'skip', 'skip still keeps one at a time');
  });

  test('a takeover of a started attempt is never skipped: it waits for every run that started before it', () => {
    // Two takeovers of one skip job: the one taken over second waits for the first instead of running beside it.
    assert.deepEqual(decideTurn(job('skip'), run('b', 10, 60), [run('a', 0, 59)], NOW, true), { kind: 'wait' });
    assert.deepEqual(decideTurn(job('skip'), run('a', 0, 59), [run('b', 10, 60)], NOW, true), { kind: 'go' });
    // A later occurrence that started in the gap before the takeover: the takeover waits for it, and is not skipped
    // (its first attempt may have reached the target already).
    assert.deepEqual(decideTurn(job('skip'), run('b', 10, 60), [run('c', 20, 59.9)], NOW, true), { kind: 'wait' });
    assert.deepEqual(
      decideTurn(job('skip'), run('c', 20, 59.9), [run('b', 10, 60)], NOW),
      { kind: 'go' },
      'and the later one goes: it started first',
    );
    assert.deepEqual(
      decideTurn(job('queue-one'), run('b', 10, 60), [run('a', 0, null)], NOW, true),
      { kind: 'go' },
      'a queued earlier one does not hold it back',
    );
    assert.deepEqual(
      decideTurn(job('allow', 1), run('b', 10, 60), [run('a', 0, 1)], NOW, true),
      { kind: 'go' },
      'it replaces a dead attempt: the limit is not crossed',
    );
  });

  test('precedes is a total order: earlier time, then smaller id', () => {
    assert.equal(precedes(at(1), 'b', at(2), 'a'), true);
    assert.equal(precedes(at(2), 'a', at(1), 'b'), false);
    assert.equal(precedes(at(1), 'a', at(1), 'b'), true);
    assert.equal(precedes(at(1), 'a', at(1), 'a'), false);
  });
});
