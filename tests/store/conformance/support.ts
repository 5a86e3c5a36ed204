// What every part of the store conformance suite shares: the target it runs against, a fresh store per test, and the
// builders and orders the assertions use.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach } from 'node:test';
import type { Job, NewJob, NewRun, Run, RunListQuery, Store } from '../../../lib/store/types';

export interface ConformanceTarget {
  store: Store;
  cleanup(): Promise<void>;
  another?: () => Promise<Store>;
  /** False when the database cannot push cancel requests (a MongoDB server without change streams). */
  pushesCancels?: boolean;
}

/** Opens a store on a fresh, empty database that has not been migrated (see index.ts). */
export type Open = () => Promise<ConformanceTarget>;

/** Inside a describe: each test gets a fresh database with a migrated store (handed to `use`), dropped after it. */
export function freshStoreEachTest(open: Open, use: (target: ConformanceTarget) => unknown): void {
  let target: ConformanceTarget;
  beforeEach(async () => {
    target = await open();
    use(target);
    await target.store.migrate();
  });
  afterEach(async () => {
    await target.cleanup();
  });
}

export const T = { timeout: 60_000 };

const BASE = Date.parse('2030-01-01T00:00:00.000Z');
export const at = (seconds: number, ms = 0): Date => new Date(BASE + seconds * 1000 + ms);

export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    name: `job-${randomUUID().slice(0, 8)}`,
    description: 'a test job',
    type: 'log',
    payload: { message: 'hello', nested: { list: [1, 'two', null, true], n: 1.5 } },
    schedule: { kind: 'interval', seconds: 60 },
    paused: false,
    timeoutSeconds: 300,
    overlapPolicy: 'skip',
    missedPolicy: 'run-once',
    tags: ['alpha', 'beta'],
    nextRunAt: at(60, 123),
    anchorAt: at(0, 123),
    ...overrides,
  };
}

export function newRun(job: Pick<Job, 'id' | 'name'>, overrides: Partial<NewRun> = {}): NewRun {
  return {
    jobId: job.id,
    jobName: job.name,
    scheduledFor: at(60),
    startedAt: null,
    finishedAt: null,
    status: 'running',
    trigger: 'schedule',
    instanceId: 'instance-a',
    attempt: 1,
    error: null,
    output: null,
    leaseExpiresAt: null,
    rangeEnd: null,
    rangeCount: null,
    ...overrides,
  };
}

export function time(d: Date | null): number | null {
  return d === null ? null : d.getTime();
}

/** Newest first by scheduledFor, then id (descending), as the Store contract documents. */
export function runOrder(a: Run, b: Run): number {
  const d = b.scheduledFor.getTime() - a.scheduledFor.getTime();
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Code point order of names, then id. */
export function jobOrder(a: Pick<Job, 'name' | 'id'>, b: Pick<Job, 'name' | 'id'>): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export async function allRunPages(store: Store, query: Omit<RunListQuery, 'cursor'>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listRuns({ ...query, cursor });
    pages++;
    assert.ok(page.items.length <= query.limit, 'a page never holds more than limit items');
    ids.push(...page.items.map((r) => r.id));
    if (page.nextCursor === null) break;
    assert.equal(page.items.length, query.limit, 'only the last page may be short');
    cursor = page.nextCursor;
    assert.ok(pages < 1000, 'pagination terminates');
  }
  return { ids, pages };
}
