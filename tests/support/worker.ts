/**
 * A scheduler instance as its own process, for multi-instance tests: what instrumentation.ts does in
 * `next start`, minus the web server. Reads DATABASE_URL (and the scheduler's env settings), prints
 * "READY <instanceId>" once the scheduler runs, and stops gracefully on SIGTERM/SIGINT, then exits.
 *
 *   node --conditions=react-server --import tsx tests/support/worker.ts
 */
import { startScheduler } from '../../lib/scheduler';

if (!process.env.DATABASE_URL) {
  console.error('worker: DATABASE_URL is required');
  process.exit(2);
}

try {
  const scheduler = await startScheduler();
  if (!scheduler) {
    console.error('worker: the scheduler is disabled (SCHEDULER_DISABLED)');
    process.exit(2);
  }
  process.stdout.write(`READY ${scheduler.instanceId}\n`);
} catch (err) {
  console.error(`worker: start failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
}
