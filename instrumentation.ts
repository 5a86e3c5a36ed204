/**
 * Next calls register() once per server process at start-up. The scheduler runs only in the Node.js
 * runtime; the dynamic imports keep Agenda, pg and the store out of the edge bundle.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  // `next build` loads this file too: a build must not start a database or a scheduler.
  if (process.env.NEXT_PHASE === 'phase-production-build') return;

  // Outside the try: a corrupt credentials file must stop start-up, not leave an app nobody can log in to.
  const { ensureCredentials } = await import('./lib/auth/credentials');
  ensureCredentials();

  // The store in use, on every instance (web-only ones too): opened (and migrated) here rather than on the first request.
  const { getStore } = await import('./lib/store');
  await getStore().then(
    (store) => console.log(`[store] using ${store.description}`),
    (err: unknown) => console.error(`[store] could not open the database: ${err instanceof Error ? err.message : String(err)}`),
  );

  const { startScheduler } = await import('./lib/scheduler');
  try {
    await startScheduler();
  } catch (err) {
    // The web stays up (health reports the failure) rather than crash-looping the whole instance.
    console.error(`[scheduler] failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return;
  }

  // The first admin user (from ADMIN_PASSWORD or the generated credentials); sign-in retries this if it fails here.
  const { ensureBootstrapAdmin } = await import('./lib/auth/login');
  await ensureBootstrapAdmin().catch((err: unknown) => {
    console.error(`[auth] could not create the first admin user: ${err instanceof Error ? err.message : String(err)}`);
  });

  if (process.env.CRONPLANE_EXAMPLE_JOBS === '1') {
    const { seedExampleJobs } = await import('./lib/examples');
    const created = await seedExampleJobs(process.env.PORT ?? '3000').catch((err: unknown) => {
      console.error(`[examples] could not create example jobs: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    });
    if (created > 0) console.log(`[examples] created ${created} example jobs`);
  }

  // After the examples: they are created only into an empty database, and this job makes it non-empty.
  if (process.env.CRONPLANE_SYSTEM_JOBS !== '0') {
    const { ensureSystemJobs } = await import('./lib/services/system-jobs');
    await ensureSystemJobs().catch((err: unknown) => {
      console.error(`[system-jobs] ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
