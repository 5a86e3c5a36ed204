import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startApp } from '../tests/support/app';
import { startTestPostgres } from '../tests/support/postgres';
import { E2E_STATE_FILE, setHandles } from './state';

/**
 * A fresh PostgreSQL database and a production build served by `next start`, both real. The build goes
 * to its own dist dir (default .next-e2e) so it never fights a developer's or another suite's build;
 * E2E_SKIP_BUILD=1 reuses the last one.
 */
export default async function globalSetup(): Promise<void> {
  const distDir = process.env.E2E_DIST_DIR || '.next-e2e';
  process.env.NEXT_DIST_DIR = distDir;
  const db = await startTestPostgres();
  let app;
  try {
    if (process.env.E2E_SKIP_BUILD !== '1') {
      // npm run build, not next build: its prebuild step generates the Prisma client. The build gets the
      // test database too: prerendering loads the app, which would otherwise start the embedded cluster.
      const env: NodeJS.ProcessEnv = { ...process.env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1', DATABASE_URL: db.url };
      // The runner needs --conditions=react-server (to load tests/support); the build must not inherit it.
      delete env.NODE_OPTIONS;
      execFileSync('npm', ['run', 'build'], { stdio: 'inherit', env });
    }
    app = await startApp({ databaseUrl: db.url, readyTimeoutMs: 90_000 });
  } catch (err) {
    await db.stop();
    throw err;
  }
  setHandles({ db, app });
  // Playwright starts its workers after this returns; they inherit these.
  process.env.E2E_BASE_URL = app.baseUrl;
  process.env.E2E_ADMIN_PASSWORD = app.adminPassword;
  process.env.E2E_INSTANCE_ID = app.instanceId;
  process.env.E2E_API_TOKEN = app.apiToken;
  // Specs that start more instances (e2e/instances.spec.ts) point them at the same database.
  process.env.E2E_DATABASE_URL = db.url;
  mkdirSync(path.dirname(E2E_STATE_FILE), { recursive: true });
  writeFileSync(E2E_STATE_FILE, JSON.stringify({ appPid: app.pid, baseUrl: app.baseUrl, databaseUrl: db.url }, null, 2));
}
