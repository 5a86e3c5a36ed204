/** The instance id (lib/scheduler/index.ts getInstanceId): INSTANCE_ID, else host-pid-random, stable for the process. */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, describe, test } from 'node:test';
import { getInstanceId } from '../../lib/scheduler';

// The id lives on globalThis (Next loads the module in several bundles of one process); forget it between cases.
const KEY = Symbol.for('cronplane.scheduler');
const saved = process.env.INSTANCE_ID;

function fresh(instanceId: string | undefined): string {
  delete (globalThis as Record<symbol, unknown>)[KEY];
  if (instanceId === undefined) delete process.env.INSTANCE_ID;
  else process.env.INSTANCE_ID = instanceId;
  return getInstanceId();
}

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KEY];
  if (saved === undefined) delete process.env.INSTANCE_ID;
  else process.env.INSTANCE_ID = saved;
});

const escapeRe = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('getInstanceId', () => {
  test('unset: <hostname>-<pid>-<6 hex digits>', () => {
    const id = fresh(undefined);
    assert.match(id, new RegExp(`^${escapeRe(hostname())}-${process.pid}-[0-9a-f]{6}$`));
  });

  test('blank counts as unset', () => {
    assert.match(fresh('   '), new RegExp(`^${escapeRe(hostname())}-${process.pid}-[0-9a-f]{6}$`));
  });

  test('stable for the life of the process, random across processes (so a restarted pid gets a new id)', () => {
    const first = fresh(undefined);
    assert.equal(getInstanceId(), first);
    process.env.INSTANCE_ID = 'changed-later';
    assert.equal(getInstanceId(), first, 'read once');
    const suffixes = new Set(Array.from({ length: 20 }, () => fresh(undefined).split('-').at(-1)));
    assert.ok(suffixes.size >= 15, `random suffixes: ${[...suffixes].join(', ')}`);
  });

  test('INSTANCE_ID wins, trimmed', () => {
    assert.equal(fresh('  web-1 '), 'web-1');
  });
});
