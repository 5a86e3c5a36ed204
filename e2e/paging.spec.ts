import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob, signIn } from './helpers';

// Paging through the dashboard: the job page's run history (20 a page: Older runs / Newest runs), the run history
// (50 a page: Older / Newer / Newest) and the jobs list (50 a page: Next page / First page), followed by clicking;
// and a malformed ?cursor= gives the first page with a notice, not the error page.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const tag = `paging-${suffix}`;
const RUNS = 55;
const EXTRA_JOBS = 51;

let page: Page;
let api: APIRequestContext;
let jobId = '';
const jobIds: string[] = [];

const runIds = (p: Page, label = 'Runs'): Promise<string[]> =>
  p.locator(`table[aria-label="${label}"] tbody tr`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id') ?? ''));
const runTimes = (p: Page): Promise<number[]> =>
  p
    .locator('table[aria-label="Runs"] tbody tr')
    .evaluateAll((rows) => rows.map((r) => Date.parse(r.getAttribute('data-scheduled-for') ?? '')));
const jobRowIds = (p: Page): Promise<string[]> =>
  p.locator('table[aria-label="Jobs"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id') ?? ''));

function disjoint(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return b.every((id) => !set.has(id));
}

test.beforeAll(async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  api = await adminApi(baseURL);
  // A day apart: every run of this job is a run-now, so the set is fixed once they are done.
  jobId = await createJob(api, {
    name: `paged runs ${suffix}`,
    type: 'log',
    payload: { message: 'page' },
    schedule: { kind: 'interval', seconds: 86_400 },
    tags: [tag],
  });
  jobIds.push(jobId);
  for (let i = 0; i < RUNS; i++) expect((await api.post(`/api/jobs/${jobId}/run`)).status()).toBe(202);
  await expect
    .poll(
      async () => {
        const response = await api.get(`/api/jobs/${jobId}/runs?limit=100`);
        const { runs } = (await response.json()) as { runs: Array<{ status: string }> };
        return runs.length === RUNS && runs.every((r) => r.status !== 'running' && r.status !== 'claimed');
      },
      { timeout: 60_000 },
    )
    .toBe(true);
  // More than a page of jobs under one tag; paused, so they never run.
  for (let i = 0; i < EXTRA_JOBS; i++) {
    jobIds.push(
      await createJob(api, {
        name: `paged job ${String(i).padStart(2, '0')} ${suffix}`,
        type: 'log',
        payload: { message: 'x' },
        schedule: { kind: 'interval', seconds: 86_400 },
        paused: true,
        tags: [tag],
      }),
    );
  }
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  for (const id of jobIds) await api.delete(`/api/jobs/${id}`);
  await page.close();
  await api.dispose();
});

test('job page: "Older runs" shows the next 20, older and different; "Newest runs" goes back', async () => {
  await page.goto(`/jobs/${jobId}`);
  const first = await runIds(page);
  expect(first).toHaveLength(20);
  const firstOldest = Math.min(...(await runTimes(page)));
  await expect(page.getByRole('link', { name: 'Newest runs' })).toHaveCount(0);

  await page.getByRole('link', { name: 'Older runs' }).click();
  await expect(page).toHaveURL(/\?cursor=/);
  await expect.poll(async () => disjoint(first, await runIds(page))).toBe(true);
  const second = await runIds(page);
  expect(second).toHaveLength(20);
  expect(Math.max(...(await runTimes(page)))).toBeLessThan(firstOldest);

  await page.getByRole('link', { name: 'Older runs' }).click();
  await expect.poll(async () => (await runIds(page)).length).toBe(RUNS - 40);
  const third = await runIds(page);
  expect(disjoint([...first, ...second], third)).toBe(true);
  await expect(page.getByRole('link', { name: 'Older runs' }), 'the last page has no older link').toHaveCount(0);

  await page.getByRole('link', { name: 'Newest runs' }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}$`));
  await expect.poll(() => runIds(page)).toEqual(first);
});

test('run history: "Older" and "Newer" move one page, "Newest" back to the first', async () => {
  await page.goto(`/runs?job=${jobId}`);
  const first = await runIds(page);
  expect(first).toHaveLength(50);
  await page.getByRole('link', { name: 'Older →' }).click();
  await expect(page).toHaveURL(/[?&]cursor=/);
  await expect(page).toHaveURL(new RegExp(`[?&]job=${jobId}`));
  await expect.poll(async () => (await runIds(page)).length).toBe(RUNS - 50);
  expect(disjoint(first, await runIds(page))).toBe(true);
  await expect(page.getByRole('link', { name: 'Older →' })).toHaveCount(0);

  await page.getByRole('link', { name: '← Newer' }).click();
  await expect.poll(() => runIds(page)).toEqual(first);

  await page.getByRole('link', { name: 'Older →' }).click();
  await expect.poll(async () => (await runIds(page)).length).toBe(RUNS - 50);
  await page.getByRole('link', { name: 'Newest' }).click();
  await expect(page).not.toHaveURL(/cursor=/);
  await expect.poll(() => runIds(page)).toEqual(first);
});

test('jobs list: "Next page" shows the rest, "First page" goes back', async () => {
  await page.goto(`/jobs?tag=${tag}`);
  const first = await jobRowIds(page);
  expect(first).toHaveLength(50);
  await page.getByRole('link', { name: 'Next page' }).click();
  await expect(page).toHaveURL(/[?&]cursor=/);
  await expect(page).toHaveURL(new RegExp(`[?&]tag=${tag}`));
  await expect.poll(async () => (await jobRowIds(page)).length).toBe(EXTRA_JOBS + 1 - 50);
  const second = await jobRowIds(page);
  expect(disjoint(first, second)).toBe(true);
  expect([...first, ...second].sort()).toEqual([...jobIds].sort());
  await page.getByRole('link', { name: 'First page' }).click();
  await expect.poll(() => jobRowIds(page)).toEqual(first);
});

test('a malformed cursor: the first page with a notice, not the error page', async () => {
  const forged = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', 'not-a-uuid'])).toString('base64url');
  const cases: Array<{ url: string; rows: () => Promise<string[]>; first: string }> = [
    { url: `/jobs/${jobId}`, rows: () => runIds(page), first: `/jobs/${jobId}` },
    { url: `/runs?job=${jobId}`, rows: () => runIds(page), first: `/runs?job=${jobId}` },
    { url: `/jobs?tag=${tag}`, rows: () => jobRowIds(page), first: `/jobs?tag=${tag}` },
  ];
  for (const c of cases) {
    await page.goto(c.first);
    const expected = await c.rows();
    for (const cursor of ['garbage!', 'e30', forged]) {
      const response = await page.goto(`${c.url}${c.url.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`);
      expect(response?.status(), `${c.url} cursor=${cursor}`).toBe(200);
      await expect(page.getByRole('heading', { name: 'Something went wrong' })).toHaveCount(0);
      await expect(page.getByTestId('bad-cursor')).toContainText('first page');
      expect(await c.rows()).toEqual(expected);
    }
    // A good page has no such notice.
    await page.goto(c.first);
    await expect(page.getByTestId('bad-cursor')).toHaveCount(0);
  }
});
