/**
 * Next calls register() once per server process at start-up. The scheduler runs only in the Node.js
 * runtime; the dynamic import keeps Agenda, pg and the store out of the edge bundle.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { startScheduler } = await import('./lib/scheduler');
  try {
    await startScheduler();
  } catch (err) {
    // The web stays up (health reports the failure) rather than crash-looping the whole instance.
    console.error(`[scheduler] failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }
}
