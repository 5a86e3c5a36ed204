/**
 * Next calls register() once per server process at start-up. The scheduler runs only in the Node.js
 * runtime; the dynamic imports keep Agenda, pg and the store out of the edge bundle.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  // `next build` loads this file too: a build must not start a database or a scheduler.
  if (process.env.NEXT_PHASE === 'phase-production-build') return;

  // First: TRACE would otherwise be a 500 from inside Next (lib/method-guard.ts).
  const { guardUnsupportedMethods } = await import('./lib/method-guard');
  guardUnsupportedMethods();

  const { errorMessage, logger } = await import('./lib/log');

  // Outside the try: a corrupt credentials file must stop start-up, not leave an app nobody can log in to.
  const { ensureCredentials } = await import('./lib/auth/credentials');
  ensureCredentials();

  // The store in use, on every instance (web-only ones too): opened (and migrated) here rather than on the first request.
  const { getStore } = await import('./lib/store');
  const opened = await getStore().then(
    (store) => (logger('store').info(`using ${store.description}`), true),
    (err: unknown) => (logger('store').error(`could not open the database: ${errorMessage(err)}`), false),
  );

  // Jobs from before signing secrets get theirs (every instance tries; they agree on one per job). In the background:
  // a job that needs its secret sooner makes it itself.
  if (opened) {
    const { backfillSigningSecrets } = await import('./lib/services/signing-secrets');
    void backfillSigningSecrets().then(
      (made) => made > 0 && logger('signing').info(`made the signing secret of ${made} job${made === 1 ? '' : 's'} that had none`),
      (err: unknown) => logger('signing').error(`could not make the missing signing secrets: ${errorMessage(err)}`),
    );
  }

  const { startScheduler } = await import('./lib/scheduler');
  try {
    await startScheduler();
  } catch (err) {
    // The web stays up (health reports the failure) rather than crash-looping the whole instance.
    logger('scheduler').error(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return;
  }

  // The first admin user (from ADMIN_PASSWORD or the generated credentials); sign-in retries this if it fails here.
  const { ensureBootstrapAdmin } = await import('./lib/services/login');
  await ensureBootstrapAdmin().catch((err: unknown) => {
    logger('auth').error(`could not create the first admin user: ${errorMessage(err)}`);
  });

  if (process.env.CRONPLANE_EXAMPLE_JOBS === '1') {
    const { seedExampleJobs } = await import('./lib/examples');
    const created = await seedExampleJobs(process.env.PORT ?? '3000').catch((err: unknown) => {
      logger('examples').error(`could not create example jobs: ${errorMessage(err)}`);
      return 0;
    });
    if (created > 0) logger('examples').info(`created ${created} example jobs`);
  }

  // After the examples: they are created only into an empty database, and this job makes it non-empty.
  if (process.env.CRONPLANE_SYSTEM_JOBS !== '0') {
    const { ensureSystemJobs } = await import('./lib/services/system-jobs');
    await ensureSystemJobs().catch((err: unknown) => {
      logger('system-jobs').error(errorMessage(err));
    });
  }
}
