import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

// One operator's session through the whole dashboard, against a real `next start` and PostgreSQL
// (see global-setup.ts). Steps share the page and build on each other, so they run in order.
test.describe.configure({ mode: 'serial' });

// README's screenshots: refreshed by `npm run screenshots`; ordinary runs keep theirs out of the tree.
const SHOTS = path.resolve(process.env.E2E_SCREENSHOTS_DIR ?? 'test-results/screenshots');
const INSTANCE_ID = process.env.E2E_INSTANCE_ID ?? 'e2e-1';
const PASSWORD = process.env.E2E_ADMIN_PASSWORD ?? '';
const suffix = Date.now().toString(36);
const intervalJob = `heartbeat ${suffix}`;
const cronJob = `nightly report ${suffix}`;

let page: Page;
let intervalJobUrl = '';
let cronJobUrl = '';

test.beforeAll(async ({ browser }) => {
  mkdirSync(SHOTS, { recursive: true });
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page.close();
});

/** The run rows on the job page, newest first, as plain data. */
async function runs(p: Page): Promise<Array<{ status: string; trigger: string; scheduledFor: number; text: string }>> {
  return p.locator('table[aria-label="Runs"] tbody tr').evaluateAll((rows) =>
    rows.map((row) => ({
      status: row.getAttribute('data-status') ?? '',
      trigger: row.getAttribute('data-trigger') ?? '',
      scheduledFor: Date.parse(row.getAttribute('data-scheduled-for') ?? ''),
      text: row.textContent ?? '',
    })),
  );
}

async function reloadUntil<T>(p: Page, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await p.waitForTimeout(750);
    await p.reload();
  }
}

test('signs in and lands on the jobs list', async () => {
  await page.goto('/jobs');
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Next's route announcer is an empty alert too: look for the one that says something.
  await expect(page.getByRole('alert').filter({ hasText: /\S/ })).toBeVisible();
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.getByRole('heading', { name: 'Jobs', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: /create your first job/i })).toBeVisible();
});

test('creates an interval job of type log', async () => {
  await page.getByRole('link', { name: 'New job' }).click();
  await expect(page.getByRole('heading', { name: 'New job' })).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill(intervalJob);
  await page.getByLabel('Type').selectOption('log');
  await page.getByLabel(/^Message/).fill('e2e heartbeat says hi');
  await page.getByLabel('Every N seconds').check();
  await page.getByLabel('Interval (seconds)').fill('2');
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 2 seconds');
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}/);
  intervalJobUrl = new URL(page.url()).pathname;
  await expect(page.getByRole('heading', { level: 1 })).toContainText(intervalJob);
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 2 seconds');
  await expect(page.getByTestId('next-occurrences').locator('li')).toHaveCount(5);
});

test('creates a cron job of type http, with a live preview in the browser zone', async () => {
  await page.goto('/jobs/new');
  await page.getByLabel('Name', { exact: true }).fill(cronJob);
  await page.getByLabel('Type').selectOption('http');
  await page.getByLabel(/^URL/).fill('http://cronplane-e2e.invalid/report');
  await page.getByLabel('On a cron schedule').check();
  // The browser (timezoneId in playwright.config.ts) is in Berlin; a new job defaults to it.
  await expect(page.getByLabel('Time zone')).toHaveValue('Europe/Berlin');
  await page.getByLabel('Cron expression').fill('30 3 * * 1-5');
  await expect(page.getByTestId('schedule-words')).toHaveText('At 03:30, Monday through Friday (Europe/Berlin)');
  await expect(page.locator('.preview .occurrences li')).toHaveCount(5);
  await page.screenshot({ path: path.join(SHOTS, 'job-form.png'), fullPage: true });
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}/);
  cronJobUrl = new URL(page.url()).pathname;
  await expect(page.getByTestId('schedule-words')).toHaveText('At 03:30, Monday through Friday (Europe/Berlin)');
  const first = await page.getByTestId('next-occurrences').locator('time').first().getAttribute('datetime');
  // 03:30 in Berlin is 01:30 or 02:30 UTC depending on daylight saving time.
  expect(first).toMatch(/T0[12]:30:00\.000Z$/);
});

test('lists both jobs with their schedules and next runs', async () => {
  await page.getByRole('link', { name: 'Jobs', exact: true }).first().click();
  await expect(page).toHaveURL(/\/jobs$/);
  const rows = page.locator('table[aria-label="Jobs"] tbody tr');
  const intervalRow = rows.filter({ hasText: intervalJob });
  const cronRow = rows.filter({ hasText: cronJob });
  await expect(intervalRow).toContainText('Every 2 seconds');
  await expect(intervalRow).toContainText('log');
  await expect(cronRow).toContainText('At 03:30, Monday through Friday (Europe/Berlin)');
  await expect(cronRow).toContainText('http');
  await expect(intervalRow.locator('td').nth(4).locator('time')).toHaveAttribute('datetime', /Z$/);
  await expect(cronRow.locator('td').nth(4).locator('time')).toHaveAttribute('datetime', /T0[12]:30:00\.000Z$/);
});

test('shows runs of the interval job with status and instance', async () => {
  await page.goto(intervalJobUrl);
  const list = await reloadUntil(
    page,
    () => runs(page),
    (r) => r.some((run) => run.status === 'succeeded'),
    30_000,
  );
  const done = list.find((run) => run.status === 'succeeded')!;
  expect(done.trigger).toBe('schedule');
  expect(done.text).toContain(INSTANCE_ID);
  await page.locator('table[aria-label="Runs"] tbody tr[data-status="succeeded"] summary').first().click();
  await expect(page.locator('table[aria-label="Runs"] pre').first()).toContainText('e2e heartbeat says hi');
  await page.screenshot({ path: path.join(SHOTS, 'job-detail.png'), fullPage: true });
  // The list again, now with a last run to show.
  await page.goto('/jobs');
  await expect(page.locator('table[aria-label="Jobs"] tbody tr', { hasText: intervalJob }).locator('.badge-succeeded')).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, 'jobs-list.png'), fullPage: true });
});

test('pausing stops new runs; resuming starts them again', async () => {
  await page.goto(intervalJobUrl);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('status')).toContainText('paused');
  const pausedAt = Date.now();
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  // Three occurrences would fall due in these 6 seconds.
  await page.waitForTimeout(6_000);
  await page.reload();
  const afterPause = await runs(page);
  const late = afterPause.filter((run) => run.trigger === 'schedule' && run.scheduledFor > pausedAt + 1_000);
  expect(late, 'no scheduled run after the pause').toEqual([]);

  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByRole('status')).toContainText('resumed');
  const resumedAt = Date.now();
  await reloadUntil(
    page,
    () => runs(page),
    (r) => r.some((run) => run.trigger === 'schedule' && run.scheduledFor > resumedAt - 1_000 && run.status === 'succeeded'),
    20_000,
  );
});

test('run now adds a manual run', async () => {
  await page.goto(intervalJobUrl);
  await page.getByRole('button', { name: 'Run now' }).click();
  await expect(page.getByRole('status')).toContainText('Run queued');
  await reloadUntil(
    page,
    () => runs(page),
    (r) => r.some((run) => run.trigger === 'manual' && run.status === 'succeeded'),
    20_000,
  );
  await expect(page.locator('tr[data-trigger="manual"]').first()).toContainText('manual');
});

test('editing the schedule shows the new schedule in words', async () => {
  await page.goto(intervalJobUrl);
  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(intervalJob);
  await expect(page.getByLabel('Interval (seconds)')).toHaveValue('2');
  await expect(page.getByLabel(/^Message/)).toHaveValue('e2e heartbeat says hi');
  await page.getByLabel('Interval (seconds)').fill('5400');
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 90 minutes');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`${intervalJobUrl}\\?notice=saved`));
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 90 minutes');
});

test('deleting asks for confirmation, then the job is gone', async () => {
  await page.goto(cronJobUrl);
  await page.getByRole('link', { name: 'Delete' }).click();
  await expect(page.getByRole('heading', { name: `Delete “${cronJob}”?` })).toBeVisible();
  // Cancel first: nothing happens.
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(new RegExp(`${cronJobUrl}$`));
  await page.getByRole('link', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Delete job' }).click();
  await expect(page).toHaveURL(/\/jobs\?notice=deleted$/);
  await expect(page.locator('table[aria-label="Jobs"]')).not.toContainText(cronJob);
  await expect(page.locator('table[aria-label="Jobs"]')).toContainText(intervalJob);
  const response = await page.goto(cronJobUrl);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Job not found' })).toBeVisible();
});

test('bad input shows each problem next to its field and keeps what was typed', async () => {
  await page.goto('/jobs/new');
  await page.getByLabel('Type').selectOption('http');
  await page.getByLabel(/^URL/).fill('not a url');
  await page.getByLabel('On a cron schedule').check();
  await page.getByLabel('Cron expression').fill('61 * * * *');
  await page.getByRole('button', { name: 'Create job' }).click();

  const name = page.getByLabel('Name', { exact: true });
  const url = page.getByLabel(/^URL/);
  const cron = page.getByLabel('Cron expression');
  for (const field of [name, url, cron]) {
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
    const errorId = describedBy.split(' ').find((id) => id.endsWith('-error'));
    expect(errorId, 'the field points at its error message').toBeTruthy();
    await expect(page.locator(`[id="${errorId}"]`)).not.toBeEmpty();
  }
  await expect(page.locator('#f-name-error')).toContainText('name is required');
  await expect(page.locator('#f-payload-url-error')).toContainText('http:// or https://');
  await expect(page.locator('#f-schedule-expression-error')).toContainText('invalid cron expression');
  await expect(url).toHaveValue('not a url');
  await expect(cron).toHaveValue('61 * * * *');
  await expect(page).toHaveURL(/\/jobs\/new$/);

  // A taken name is reported on the name field.
  await name.fill(intervalJob);
  await url.fill('https://example.com/');
  await cron.fill('0 * * * *');
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page.locator('#f-name-error')).toContainText('already exists');
  await expect(page.getByLabel('Name', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-payload-url-error')).toHaveCount(0);
});

test('lists this instance as live', async () => {
  await page.getByRole('link', { name: 'Instances' }).click();
  const row = page.locator('table[aria-label="Instances"] tbody tr', { hasText: INSTANCE_ID });
  await expect(row).toHaveAttribute('data-state', 'live');
});

test('logs out', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/jobs');
  await expect(page).toHaveURL(/\/login/);
});
