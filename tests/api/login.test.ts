/**
 * Dashboard sign-in through /login in a real browser (Debian's Chromium), against a real app and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from '@playwright/test';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

let db: TestPostgres;
let app: StartedApp;
let browser: Browser;

before(
  async () => {
    db = await startTestPostgres();
    app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_DISABLED: '1' } });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/lib/chromium/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await browser?.close();
    await app?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

describe('pages without a session', () => {
  test('redirect to /login?next=<path>', async () => {
    const response = await fetch(`${app.baseUrl}/jobs?tag=x`, { redirect: 'manual' });
    assert.ok([302, 307].includes(response.status), `status ${response.status}`);
    const location = new URL(response.headers.get('location') ?? '', app.baseUrl);
    assert.equal(location.pathname, '/login');
    assert.equal(location.searchParams.get('next'), '/jobs?tag=x');
  });

  test('the login page itself is public', async () => {
    const response = await fetch(`${app.baseUrl}/login`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /Sign in/);
  });
});

describe('sign in', () => {
  test(
    'wrong password: a clear error; right password: back where we wanted; session works for pages and API; log out ends it',
    { timeout: 90_000 },
    async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${app.baseUrl}/instances`);
        await page.waitForURL(/\/login\?next=%2Finstances$/);

        await page.getByLabel('Username').fill('admin');
        await page.getByLabel('Password').fill('not the password');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor({ timeout: 15_000 });
        assert.equal(
          (await context.cookies()).some((c) => c.name === 'cronplane_session'),
          false,
        );

        await page.getByLabel('Username').fill('admin');
        await page.getByLabel('Password').fill(app.adminPassword);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${app.baseUrl}/instances`, { timeout: 15_000 });

        const cookie = (await context.cookies()).find((c) => c.name === 'cronplane_session');
        assert.ok(cookie, 'session cookie set');
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, 'Lax');
        assert.equal(cookie.secure, false, 'plain http here');
        const hours = (cookie.expires * 1000 - Date.now()) / 3_600_000;
        assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
        assert.equal(await page.evaluate(() => document.cookie.includes('cronplane_session')), false, 'not readable by scripts');

        // The same cookie authenticates the API (same origin), not only pages.
        const api = await page.evaluate(async () => {
          const r = await fetch('/api/jobs');
          return { status: r.status, body: await r.json() };
        });
        assert.equal(api.status, 200);
        assert.deepEqual(api.body, { jobs: [], nextCursor: null });

        // A page visit to /login while signed in goes straight on.
        await page.goto(`${app.baseUrl}/login?next=/jobs`);
        await page.waitForURL(`${app.baseUrl}/jobs`);

        // The cookie is refused for state changes that come from another origin.
        const crossOrigin = await fetch(`${app.baseUrl}/api/jobs`, {
          method: 'POST',
          headers: { cookie: `cronplane_session=${cookie.value}`, origin: 'http://evil.example', 'content-type': 'application/json' },
          body: '{}',
        });
        assert.equal(crossOrigin.status, 403);

        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(/\/login/);
        assert.equal(
          (await context.cookies()).some((c) => c.name === 'cronplane_session'),
          false,
        );
        await page.goto(`${app.baseUrl}/jobs`);
        await page.waitForURL(/\/login\?next=%2Fjobs$/);
      } finally {
        await context.close();
      }
    },
  );

  test('behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure', { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-proto': 'https' } });
    const page = await context.newPage();
    try {
      await page.goto(`${app.baseUrl}/login`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(app.adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${app.baseUrl}/jobs`, { timeout: 15_000 });
      const cookie = (await context.cookies()).find((c) => c.name === 'cronplane_session');
      assert.equal(cookie?.secure, true);
    } finally {
      await context.close();
    }
  });

  test('an open redirect through ?next= is not possible', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${app.baseUrl}/login?next=//evil.example/x`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(app.adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${app.baseUrl}/jobs`, { timeout: 15_000 });
    } finally {
      await context.close();
    }
  });

  test('repeated failures from one address are rate limited, even with the right password', { timeout: 90_000 }, async () => {
    // Its own client address, so the other tests' address is not locked out.
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': '198.51.100.23' } });
    const page = await context.newPage();
    try {
      await page.goto(`${app.baseUrl}/login`);
      // An unknown user: the address limit is what is tested, not the per-account lock-out (tests/api/roles.test.ts).
      for (let i = 1; i <= 10; i++) {
        await page.getByLabel('Username').fill('nobody');
        await page.getByLabel('Password').fill(`wrong ${i}`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor({ timeout: 15_000 });
        // Wait for the form to be ready again (the action finished).
        await page.getByRole('button', { name: 'Sign in' }).waitFor();
      }
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(app.adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /Too many failed sign-in attempts/ })
        .waitFor({ timeout: 15_000 });
      assert.equal(
        (await context.cookies()).some((c) => c.name === 'cronplane_session'),
        false,
      );
    } finally {
      await context.close();
    }
  });
});
