import { expect, request as playwrightRequest, test, type APIRequestContext } from '@playwright/test';

// Retry with backoff visible in the runs: a job whose every attempt fails deterministically (an http call to the
// app's own health route that expects a status it never answers), with 3 attempts 1 s then 2 s apart. The job is
// created through the REST API; the browser reads the run detail page.
const PASSWORD = process.env.E2E_ADMIN_PASSWORD ?? '';
const TOKEN = process.env.E2E_API_TOKEN ?? '';

interface RunJson {
  id: string;
  status: string;
  attempt: number;
  error: string | null;
}

let api: APIRequestContext;

test.beforeAll(async ({ baseURL }) => {
  api = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } });
});

test.afterAll(async () => {
  await api.dispose();
});

async function firstRun(jobId: string): Promise<RunJson | undefined> {
  const response = await api.get(`/api/jobs/${jobId}/runs?limit=5`);
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { runs: RunJson[] }).runs[0];
}

test('retry with backoff visible in the runs', async ({ page, baseURL }) => {
  const name = `retrying ${Date.now().toString(36)}`;
  const created = await api.post('/api/jobs', {
    data: {
      name,
      type: 'http',
      payload: { url: `${baseURL}/api/health`, expectedStatus: 299, timeoutSeconds: 5 },
      schedule: { kind: 'once', at: new Date(Date.now() + 1_000).toISOString() },
      retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 2 },
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const jobId = ((await created.json()) as { id: string }).id;

  // Between attempts the API shows the run waiting, with when the next attempt is due.
  const statuses = new Set<string>();
  let waiting: RunJson | undefined;
  await expect
    .poll(
      async () => {
        const run = await firstRun(jobId);
        if (run) statuses.add(run.status);
        if (run?.status === 'retrying') waiting ??= run;
        return run ? `${run.status}/${run.attempt}` : 'none';
      },
      { timeout: 25_000, intervals: [150] },
    )
    .toBe('failed/3');
  expect([...statuses], 'the waiting state was visible').toContain('retrying');
  expect(waiting?.error ?? '').toMatch(/attempt [12] of 3 failed: .*; attempt [23] at /);

  const run = (await firstRun(jobId))!;
  await page.goto('/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/jobs$/);

  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole('heading', { name: 'Attempts' })).toBeVisible();
  const rows = page.locator('[data-testid="run-attempts"] tbody tr');
  await expect(rows).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const cells = rows.nth(i).locator('td');
    await expect(cells.nth(0)).toContainText(String(i + 1));
    await expect(cells.nth(4)).toHaveText('failed');
    // Each attempt keeps its own error (the status it got instead of the expected one).
    await expect(cells.nth(5)).toContainText('200');
    await expect(cells.nth(2)).not.toHaveText('not started');
  }
  await expect(rows.nth(2).locator('td').nth(0)).toContainText('(current)');

  // The attempts' start times are spaced by the backoff (1 s, then 2 s): read from the rendered <time> elements.
  const starts = await rows.evaluateAll((trs) =>
    trs.map((tr) => Date.parse(tr.querySelectorAll('td')[2]?.querySelector('time')?.getAttribute('datetime') ?? '')),
  );
  const ends = await rows.evaluateAll((trs) =>
    trs.map((tr) => Date.parse(tr.querySelectorAll('td')[3]?.querySelector('time')?.getAttribute('datetime') ?? '')),
  );
  expect(
    starts.every((t) => Number.isFinite(t)),
    `start times ${starts.join(', ')}`,
  ).toBe(true);
  expect(starts[1]! - ends[0]!).toBeGreaterThanOrEqual(900);
  expect(starts[2]! - ends[1]!).toBeGreaterThanOrEqual(1_900);
});
