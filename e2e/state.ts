import path from 'node:path';
import type { StartedApp } from '../tests/support/app';
import type { TestPostgres } from '../tests/support/postgres';

/** Where global setup records what it started (PIDs, URLs), for teardown and for debugging a run. */
export const E2E_STATE_FILE = path.resolve('e2e/.artifacts/state.json');

interface Handles {
  db: TestPostgres;
  app: StartedApp;
}

// Global setup and teardown run in the same runner process; globalThis survives separate module loads.
const KEY = Symbol.for('cronplane.e2e.handles');
type G = typeof globalThis & { [KEY]?: Handles };

export function setHandles(handles: Handles): void {
  (globalThis as G)[KEY] = handles;
}

export function getHandles(): Handles | undefined {
  return (globalThis as G)[KEY];
}
