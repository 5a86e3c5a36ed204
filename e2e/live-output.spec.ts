import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob, jobRuns, signIn } from './helpers';

// Live output (issue #14, item 5): a run's lines appear on its page while it runs (pushed over the event stream, read
// from the chunks the running instance writes), then the page shows the final output.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const LINES = 12;
let page: Page;
let api: APIRequestContext;

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  await api.dispose();
});

test('lines appear on the run page before the run ends, then the final output', async () => {
  test.setTimeout(60_000);
  const jobId = await createJob(api, {
    name: `live output ${suffix}`,
    type: 'log',
    payload: { message: `tick ${suffix}`, repeat: LINES, intervalMs: 500 },
    schedule: { kind: 'interval', seconds: 86_400 },
    timeoutSeconds: 60,
  });
  expect((await api.post(`/api/jobs/${jobId}/run`)).status()).toBe(202);
  let runId = '';
  await expect
    .poll(
      async () => {
        const [run] = await jobRuns<{ id: string; status: string }>(api, jobId, 1);
        runId = run?.status === 'running' ? run.id : '';
        return runId;
      },
      { timeout: 20_000 },
    )
    .not.toBe('');
  await page.goto(`/runs/${runId}`);
  const live = page.getByTestId('run-live-output');
  // The page was read while it ran: the live view, not the final output.
  await expect(page.getByTestId('run-output')).toHaveCount(0);
  // Lines arrive one by one without reloading the page: a line written after the page was loaded shows up.
  await expect(live).toContainText(`tick ${suffix} (3/${LINES})`, { timeout: 10_000 });
  await expect(live).toContainText(`tick ${suffix} (6/${LINES})`, { timeout: 10_000 });
  // …before the run ended.
  const [during] = await jobRuns<{ id: string; status: string }>(api, jobId, 1);
  expect(during!.status).toBe('running');
  const text = (await live.textContent()) ?? '';
  const seen = [...text.matchAll(/\((\d+)\/12\)/g)].map((m) => Number(m[1]));
  expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i)); // in order, once each
  // Then the final output (the excerpt as before), without a reload.
  const output = page.getByTestId('run-output');
  await expect(output).toContainText(`tick ${suffix} (${LINES}/${LINES})`, { timeout: 20_000 });
  await expect(output).toContainText(`tick ${suffix} (1/${LINES})`);
  await expect(page.getByTestId('run-live-output')).toHaveCount(0);
});
