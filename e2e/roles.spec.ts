import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { adminApi, signIn } from './helpers';

// Roles in the browser: a viewer sees no mutating control, and a forged mutation (API call or server action with
// the viewer's cookie) is refused by the server. An admin manages users and tokens and reads the audit log.
test.describe.configure({ mode: 'serial' });

const DIST_DIR = process.env.E2E_DIST_DIR || '.next-e2e';
const viewerName = `viewer-${randomBytes(3).toString('hex')}`;
const viewerPassword = `pw-${randomBytes(12).toString('base64url')}`;

let api: APIRequestContext;
let page: Page;
let jobId = '';
let jobName = '';

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  const user = await api.post('/api/users', { data: { username: viewerName, password: viewerPassword, role: 'viewer' } });
  expect(user.status()).toBe(201);
  jobName = `viewer target ${randomBytes(3).toString('hex')}`;
  const job = await api.post('/api/jobs', { data: { name: jobName, type: 'log', payload: { message: 'hi' }, schedule: { kind: 'interval', seconds: 3600 } } });
  expect(job.status()).toBe(201);
  jobId = ((await job.json()) as { id: string }).id;
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page.close();
  await api.dispose();
});

async function jobPaused(): Promise<boolean> {
  const answer = await api.get(`/api/jobs/${jobId}`);
  return ((await answer.json()) as { paused: boolean }).paused;
}

/** Posts a server action the way React would (its id is public in the build), with the job id as the argument; the HTTP status. */
function postAction(name: string): Promise<number> {
  return page.evaluate(
    async ({ id, action }) => {
      const r = await fetch(`/jobs/${id}`, {
        method: 'POST',
        headers: { 'next-action': action, 'content-type': 'text/plain;charset=UTF-8', accept: 'text/x-component' },
        body: JSON.stringify([id]),
        redirect: 'manual',
      });
      return r.status;
    },
    { id: jobId, action: actionId(name) },
  );
}

function actionId(name: string): string {
  const manifest = JSON.parse(readFileSync(path.join(DIST_DIR, 'server', 'server-reference-manifest.json'), 'utf8')) as {
    node: Record<string, { exportedName?: string }>;
  };
  const id = Object.entries(manifest.node).find(([, entry]) => entry.exportedName === name)?.[0];
  if (!id) throw new Error(`server action ${name} not in the build`);
  return id;
}

test('a viewer sees the jobs list and a job, without any mutating control', async () => {
  await signIn(page, viewerName, viewerPassword);
  await expect(page.getByTestId('current-role')).toHaveText('viewer');
  await expect(page.getByRole('link', { name: jobName })).toBeVisible();
  await expect(page.getByRole('link', { name: 'New job' })).toHaveCount(0);
  await expect(page.getByRole('checkbox')).toHaveCount(0);
  await expect(page.getByRole('group', { name: 'Bulk actions' })).toHaveCount(0);
  for (const name of ['Audit', 'Users', 'Tokens']) await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name })).toHaveCount(0);

  await page.getByRole('link', { name: jobName }).click();
  await expect(page.getByRole('heading', { name: jobName, level: 1 })).toBeVisible();
  for (const name of ['Pause', 'Resume', 'Run now', 'Edit', 'Delete']) {
    await expect(page.getByRole('button', { name, exact: true })).toHaveCount(0);
    await expect(page.getByRole('link', { name, exact: true })).toHaveCount(0);
  }
  // No server-action form in the page body (React marks each with a hidden $ACTION_ input): only "Log out" has one.
  await expect(page.locator('main input[name^="$ACTION"]')).toHaveCount(0);

  // Typing the URL of a mutating page leads back with a refusal.
  await page.goto(`/jobs/${jobId}/edit`);
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}\\?notice=forbidden$`));
  await expect(page.getByRole('alert').filter({ hasText: 'may not' })).toBeVisible();
  await page.goto('/settings/users');
  await expect(page).toHaveURL(/\/jobs\?notice=forbidden$/);
});

test('a forged mutation with the viewer cookie is refused: API call and server action', async () => {
  await page.goto(`/jobs/${jobId}`);
  const apiAnswer = await page.evaluate(async (id) => {
    const r = await fetch(`/api/jobs/${id}/pause`, { method: 'POST' });
    return { status: r.status, body: await r.text() };
  }, jobId);
  expect(apiAnswer.status).toBe(403);
  expect(await jobPaused()).toBe(false);

  // The pause form is not on the page, but its action id is public in the build: post it the way React would.
  const actionStatus = await postAction('pauseJobAction');
  expect(actionStatus).toBeLessThan(500);
  expect(await jobPaused()).toBe(false);

  const deleteStatus = await postAction('deleteJobAction');
  expect(deleteStatus).toBeLessThan(500);
  expect((await api.get(`/api/jobs/${jobId}`)).status()).toBe(200);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
});

test('an admin sees the controls, creates a token shown once, and finds the viewer in the audit log', async () => {
  await signIn(page);
  await expect(page.getByTestId('current-role')).toHaveText('admin');
  await expect(page.getByRole('link', { name: 'New job' })).toBeVisible();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
  await page.getByLabel('Name').fill('e2e pipeline');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('new-token').textContent()) ?? '';
  expect(secret).toMatch(/^cpt_/);
  const viaToken = await api.get('/api/jobs', { headers: { authorization: `Bearer ${secret}` } });
  expect(viaToken.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await page.getByLabel('Actor').fill(viewerName);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.locator('table[aria-label="Audit log"] tbody tr[data-action="login.success"]')).toHaveCount(1);
  await expect(page.locator('table[aria-label="Audit log"] tbody tr[data-action="logout"]')).toHaveCount(1);
});
