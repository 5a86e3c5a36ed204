import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { adminApi, createJob as createJobVia, jobRuns as jobRunsVia, markDocument, sameDocument, signIn } from './helpers';

// The operator's wider view: live updates, run history, run detail, instances, theme, phone layout.
// Jobs are created through the REST API (as another client would), the browser only watches.
test.describe.configure({ mode: 'serial' });

// README's screenshots: refreshed by `npm run screenshots`; ordinary runs keep theirs out of the tree.
const SHOTS = path.resolve(process.env.E2E_SCREENSHOTS_DIR ?? 'test-results/screenshots');
const INSTANCE_ID = process.env.E2E_INSTANCE_ID ?? 'e2e-1';
const suffix = Date.now().toString(36);
const okJob = `live ok ${suffix}`;
const failJob = `live failing ${suffix}`;

let page: Page;
let api: APIRequestContext;
let okJobId = '';
let failJobId = '';

interface RunJson {
  id: string;
  status: string;
}

const createJob = (body: Record<string, unknown>) => createJobVia(api, body);
const jobRuns = (id: string) => jobRunsVia<RunJson>(api, id, 50);

async function rowsOf(p: Page, label: string): Promise<Array<{ id: string; status: string; jobId: string }>> {
  return p.locator(`table[aria-label="${label}"] tbody tr`).evaluateAll((rows) =>
    rows.map((row) => ({
      id: row.getAttribute('data-run-id') ?? '',
      status: row.getAttribute('data-status') ?? '',
      jobId: row.getAttribute('data-job-id') ?? '',
    })),
  );
}

test.beforeAll(async ({ browser, baseURL }) => {
  mkdirSync(SHOTS, { recursive: true });
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  await api.dispose();
});

test('a job created by another client shows up in the open jobs list without a reload', async () => {
  await page.goto('/jobs');
  await expect(page.locator('.live')).toHaveAttribute('data-live', 'live');
  await markDocument(page);
  okJobId = await createJob({ name: okJob, type: 'log', payload: { message: 'live says hi' }, schedule: { kind: 'interval', seconds: 1 } });
  await expect(page.locator(`table[aria-label="Jobs"] tbody tr[data-job-id="${okJobId}"]`)).toContainText(okJob);
  expect(await sameDocument(page), 'the list updated in place').toBe(true);
});

test('runs appear on an open job page without a reload', async () => {
  await page.goto(`/jobs/${okJobId}`);
  await expect(page.locator('.live')).toHaveAttribute('data-live', 'live');
  await markDocument(page);
  const before = new Set((await rowsOf(page, 'Runs')).map((r) => r.id));
  // A run the page did not have when it loaded, finished: pushed in by the live stream.
  await expect
    .poll(async () => (await rowsOf(page, 'Runs')).filter((r) => r.status === 'succeeded' && !before.has(r.id)).length, { timeout: 15_000 })
    .toBeGreaterThan(0);
  expect(await sameDocument(page)).toBe(true);
});

test('run history: status and job filters narrow the list, kept in the URL', async () => {
  // An address that cannot resolve: every run fails, quickly and offline.
  failJobId = await createJob({
    name: failJob,
    type: 'http',
    payload: { url: 'http://cronplane-e2e.invalid/fail', timeoutSeconds: 2 },
    schedule: { kind: 'interval', seconds: 1 },
  });
  await expect
    .poll(async () => (await jobRuns(failJobId)).filter((r) => r.status === 'failed').length, { timeout: 20_000 })
    .toBeGreaterThan(0);

  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await expect(page).toHaveURL(/\/runs$/);
  const all = await rowsOf(page, 'Runs');
  expect(all.some((r) => r.jobId === okJobId) && all.some((r) => r.jobId === failJobId), 'both jobs in the unfiltered list').toBe(true);

  await page.getByLabel('Status', { exact: true }).selectOption('failed');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/[?&]status=failed/);
  const failed = await rowsOf(page, 'Runs');
  expect(failed.length).toBeGreaterThan(0);
  expect(failed.every((r) => r.status === 'failed')).toBe(true);
  expect(failed.some((r) => r.jobId === failJobId)).toBe(true);
  await expect(page.getByLabel('Status', { exact: true })).toHaveValue('failed');

  await page.getByLabel('Status', { exact: true }).selectOption('');
  await page.getByLabel('Job', { exact: true }).selectOption({ label: okJob });
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]job=${okJobId}`));
  const ok = await rowsOf(page, 'Runs');
  expect(ok.length).toBeGreaterThan(0);
  expect(ok.every((r) => r.jobId === okJobId)).toBe(true);

  // Both filters at once: the succeeding job has no failed run.
  await page.goto(`/runs?job=${okJobId}&status=failed`);
  await expect(page.getByText('No run matches these filters.')).toBeVisible();
  await expect(page.getByLabel('Job', { exact: true })).toHaveValue(okJobId);

  await page.goto(`/runs?job=${failJobId}`);
  await page.screenshot({ path: path.join(SHOTS, 'runs-light.png'), fullPage: true });
});

test('run detail shows timings, error, instance and job', async () => {
  await page.goto(`/runs?job=${failJobId}&status=failed`);
  const row = page.locator('table[aria-label="Runs"] tbody tr').first();
  const runId = await row.getAttribute('data-run-id');
  await row.locator('.run-link').click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(failJob);
  await expect(page.getByRole('heading', { level: 1 }).locator('.badge-failed')).toBeVisible();
  await expect(page.getByTestId('run-trigger')).toHaveText('its schedule');
  await expect(page.getByTestId('run-error')).not.toBeEmpty();
  await expect(page.getByTestId('run-duration')).toHaveText(/\d+(\.\d+)? (ms|s)/);
  await expect(page.getByTestId('run-lag')).toHaveText(/\d+(\.\d+)? (ms|s)/);
  const timing = page.getByTestId('run-timing');
  await expect(timing.locator('time')).toHaveCount(3);
  await page.screenshot({ path: path.join(SHOTS, 'run-detail-light.png'), fullPage: true });

  // One click to the instance that ran it.
  await page.locator('.panel a.instance').click();
  await expect(page).toHaveURL(new RegExp(`/instances#instance-${INSTANCE_ID}$`));
  await expect(page.locator(`tr[id="instance-${INSTANCE_ID}"]`)).toHaveAttribute('data-state', 'live');

  // The job goes; its runs stay, under the kept name.
  await page.goto(`/runs/${runId}`);
  const deleted = await api.delete(`/api/jobs/${failJobId}`);
  expect(deleted.status()).toBe(204);
  await page.reload();
  await expect(page.getByTestId('job-deleted')).toContainText(failJob);
  await expect(page.getByRole('heading', { level: 1 }).getByRole('link')).toHaveCount(0);
});

test('the instances page shows this instance with what it runs', async () => {
  await page.goto('/instances');
  const row = page.locator(`table[aria-label="Instances"] tbody tr[data-instance-id="${INSTANCE_ID}"]`);
  await expect(row).toHaveAttribute('data-state', 'live');
  await expect(row.getByTestId('running-now')).toBeVisible();
  await expect(row.locator('td[data-label="Clock skew"]')).toHaveText(/ms|s/);
  await expect(row.getByRole('link', { name: 'Its runs' })).toHaveAttribute('href', `/runs?instance=${encodeURIComponent(INSTANCE_ID)}`);
  await page.screenshot({ path: path.join(SHOTS, 'instances-light.png'), fullPage: true });
});

test('cron helpers: presets, words, next occurrences, clear errors', async () => {
  await page.goto('/jobs/new');
  await page.getByLabel('On a cron schedule').check();
  await page.getByRole('button', { name: 'Weekdays at 09:00' }).click();
  await expect(page.getByLabel('Cron expression')).toHaveValue('0 9 * * 1-5');
  await expect(page.getByTestId('schedule-words')).toHaveText('At 09:00, Monday through Friday (Europe/Berlin)');
  await expect(page.locator('.preview .occurrences li')).toHaveCount(5);
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await expect(page.getByTestId('schedule-error')).toContainText('Unknown time zone “Mars/Olympus”');
  await page.getByLabel('Time zone').fill('UTC');
  await page.getByLabel('Cron expression').fill('0 25 * * *');
  await expect(page.getByTestId('schedule-error')).toContainText('Invalid cron expression');
  await page.getByRole('button', { name: 'Hourly' }).click();
  await expect(page.getByTestId('schedule-words')).toHaveText('Every hour (UTC)');
});

test('theme toggle: system, light, dark; remembered across reloads', async () => {
  await page.goto('/runs');
  const html = page.locator('html');
  const toggle = page.locator('.theme-toggle');
  await expect(toggle).toHaveAttribute('data-theme-choice', 'system');
  await expect(html).not.toHaveAttribute('data-theme', /./);
  await toggle.click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  await toggle.click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(await background()).toBe('rgb(17, 20, 24)');
  await page.reload();
  // Rendered dark by the server, before any script ran.
  await expect(html).toHaveAttribute('data-theme', 'dark');
  expect(await background()).toBe('rgb(17, 20, 24)');
  await page.screenshot({ path: path.join(SHOTS, 'runs-dark.png'), fullPage: true });
  const runId = await page.locator('table[aria-label="Runs"] tbody tr').first().getAttribute('data-run-id');
  await page.goto(`/runs/${runId}`);
  await page.screenshot({ path: path.join(SHOTS, 'run-detail-dark.png'), fullPage: true });
  await page.goto('/instances');
  await page.screenshot({ path: path.join(SHOTS, 'instances-dark.png'), fullPage: true });
  await page.goto(`/jobs/${okJobId}`);
  await page.screenshot({ path: path.join(SHOTS, 'job-detail-dark.png'), fullPage: true });
  // Back to following the system.
  await page.locator('.theme-toggle').click();
  await expect(html).not.toHaveAttribute('data-theme', /./);
  await page.reload();
  await expect(page.locator('.theme-toggle')).toHaveAttribute('data-theme-choice', 'system');
});

test('readable on a phone: no sideways scrolling, runs as stacked rows', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const url of ['/runs', '/instances', `/jobs/${okJobId}`]) {
    await page.goto(url);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${url} fits the screen`).toBeLessThanOrEqual(0);
  }
  await page.goto('/runs');
  // Each field carries its own label on a phone.
  await expect(page.locator('table[aria-label="Runs"] tbody tr').first().locator('td[data-label="Status"]')).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, 'runs-phone.png') });
  await page.setViewportSize({ width: 1360, height: 900 });
  // Stop the job's runs: the rest of the suite (and the database) need no more of them.
  expect((await api.post(`/api/jobs/${okJobId}/pause`)).ok()).toBe(true);
});
