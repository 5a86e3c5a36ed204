import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob as createJobVia, signIn } from './helpers';

// The jobs list at work: filter by tag (URL state), bulk pause and a confirmed bulk delete; the job page's charts.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const bulkTag = `bulk-${suffix}`;
const otherTag = `other-${suffix}`;

let page: Page;
let api: APIRequestContext;
const bulkIds: string[] = [];
let otherId = '';
let chartJobId = '';

const createJob = (body: Record<string, unknown>) => createJobVia(api, body);

async function jobJson(id: string): Promise<{ paused: boolean } | null> {
  const response = await api.get(`/api/jobs/${id}`);
  if (response.status() === 404) return null;
  expect(response.ok()).toBe(true);
  return (await response.json()) as { paused: boolean };
}

function rowIds(p: Page): Promise<string[]> {
  return p.locator('table[aria-label="Jobs"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id') ?? ''));
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  for (const n of [1, 2, 3]) {
    bulkIds.push(
      await createJob({
        name: `bulk ${n} ${suffix}`,
        type: 'log',
        payload: { message: 'bulk' },
        schedule: { kind: 'interval', seconds: 3600 },
        tags: [bulkTag],
      }),
    );
  }
  otherId = await createJob({
    name: `other ${suffix}`,
    type: 'log',
    payload: { message: 'other' },
    schedule: { kind: 'interval', seconds: 3600 },
    tags: [otherTag],
  });
  // Every second, so the chart has runs to draw within a few seconds.
  chartJobId = await createJob({
    name: `chart ${suffix}`,
    type: 'log',
    payload: { message: 'chart' },
    schedule: { kind: 'interval', seconds: 1 },
    tags: [otherTag],
  });
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await api.post(`/api/jobs/${chartJobId}/pause`).catch(() => {});
  await page.close();
  await api.dispose();
});

test('a tag chip filters the jobs list, and the filter lives in the URL', async () => {
  await page.goto('/jobs');
  await page.getByRole('navigation', { name: 'Filter by tag' }).locator(`a[data-tag="${bulkTag}"]`).click();
  await expect(page).toHaveURL(new RegExp(`[?&]tag=${bulkTag}`));
  await expect(page.locator('table[aria-label="Jobs"] tbody tr')).toHaveCount(3);
  expect((await rowIds(page)).sort()).toEqual([...bulkIds].sort());
  await expect(page.locator(`a[data-tag="${bulkTag}"]`)).toHaveAttribute('aria-current', 'true');

  // Straight from the URL (a shared link), the other tag: its two jobs only.
  await page.goto(`/jobs?tag=${otherTag}`);
  expect((await rowIds(page)).sort()).toEqual([otherId, chartJobId].sort());
});

test('bulk pause pauses every selected job and nothing else', async () => {
  await page.goto(`/jobs?tag=${bulkTag}`);
  const pause = page.getByRole('button', { name: 'Pause selected' });
  await expect(pause).toBeDisabled();
  await page.getByLabel('Select all jobs on this page').check();
  await expect(page.getByTestId('bulk-count')).toHaveText('3 selected');
  await pause.click();
  await expect(page.getByTestId('bulk-result')).toContainText('3 jobs paused');
  await expect(page.locator('table[aria-label="Jobs"] tbody tr .badge-paused')).toHaveCount(3);
  for (const id of bulkIds) expect((await jobJson(id))?.paused).toBe(true);
  expect((await jobJson(otherId))?.paused).toBe(false);
});

test('bulk delete asks first, then deletes only the selected job', async () => {
  await page.goto(`/jobs?tag=${otherTag}`);
  await page.getByLabel(`Select other ${suffix}`).check();
  await page.getByRole('button', { name: 'Delete selected…' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Delete 1 job' })).toBeVisible();
  expect(await jobJson(otherId), 'nothing deleted before the confirmation').not.toBeNull();
  await page.getByRole('button', { name: 'Yes, delete 1' }).click();
  await expect(page.getByTestId('bulk-result')).toContainText('1 job deleted');
  expect(await jobJson(otherId)).toBeNull();
  expect(await jobJson(chartJobId)).not.toBeNull();
  expect(await rowIds(page)).toEqual([chartJobId]);
});

test('the job page charts its runs: bars by status and a duration line', async () => {
  // Wait (through the API) until the every-second job has finished a few runs.
  await expect
    .poll(
      async () => {
        const response = await api.get(`/api/jobs/${chartJobId}/runs?limit=20`);
        const body = (await response.json()) as { runs: Array<{ status: string }> };
        return body.runs.filter((r) => r.status === 'succeeded').length;
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThanOrEqual(3);
  await page.goto(`/jobs/${chartJobId}?range=1h`);
  const runsChart = page.getByTestId('runs-chart');
  await expect(runsChart.locator('svg[role="img"]')).toHaveAttribute('aria-label', /\d+ runs in the last 1 hour: \d+ succeeded/);
  expect(await runsChart.locator('svg rect[data-status="succeeded"]').count()).toBeGreaterThan(0);
  await expect(page.getByTestId('duration-chart').locator('svg path.chart-line').first()).toHaveAttribute('d', /^M/);
  await expect(page.getByRole('link', { name: '1h' })).toHaveAttribute('aria-current', 'true');
  // The range selector switches the window in the URL.
  await page.getByRole('link', { name: '7d' }).click();
  await expect(page).toHaveURL(/range=7d/);
  await expect(runsChart.locator('svg[role="img"]')).toHaveAttribute('aria-label', /in the last 7 days/);
});
