import { existsSync, readFileSync, rmSync } from 'node:fs';
import { E2E_STATE_FILE, getHandles } from './state';

/** Stops the app by its PID and drops the test database; the throwaway cluster goes with the runner process. */
export default async function globalTeardown(): Promise<void> {
  const handles = getHandles();
  if (handles) {
    await handles.app.stop();
    await handles.db.stop();
  } else if (existsSync(E2E_STATE_FILE)) {
    // Setup ran in another module instance: fall back to the PID it recorded.
    const { appPid } = JSON.parse(readFileSync(E2E_STATE_FILE, 'utf8')) as { appPid: number };
    try {
      process.kill(appPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(E2E_STATE_FILE, { force: true });
}
