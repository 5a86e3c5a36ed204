import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob as createJobVia, signIn } from './helpers';

// Auto-pause in the job form (issue #14, item 7): set on edit, shown on the job page and back in the form, a bad value
// refused inline (nothing saved), cleared to never. The pause itself: tests/scheduler/auto-pause.test.ts.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
let page: Page;
let api: APIRequestContext;
let jobId = '';

async function autoPauseOf(id: string): Promise<unknown> {
  const response = await api.get(`/api/jobs/${id}`);
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { autoPause: unknown }).autoPause;
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  jobId = await createJobVia(api, {
    name: `auto pause ${suffix}`,
    type: 'log',
    payload: { message: 'x' },
    schedule: { kind: 'interval', seconds: 3600 },
    paused: true,
  });
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  // The specs share one app: later ones (the README's screenshots among them) do not see this job.
  if (jobId) expect((await api.delete(`/api/jobs/${jobId}`)).status()).toBe(204);
  await api.dispose();
});

test('set in the form, shown on the job page and in the form again; a bad value is refused inline; cleared to never', async () => {
  await page.goto(`/jobs/${jobId}`);
  await expect(page.getByTestId('job-auto-pause')).toHaveText('never');

  await page.goto(`/jobs/${jobId}/edit`);
  const field = page.getByLabel('Auto-pause after failures');
  await expect(field).toHaveValue('');
  await field.fill('3');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}\\?notice=saved`));
  await expect(page.getByTestId('job-auto-pause')).toHaveText('after 3 consecutive failed occurrences');
  expect(await autoPauseOf(jobId)).toEqual({ afterFailures: 3 });

  await page.goto(`/jobs/${jobId}/edit`);
  await expect(field).toHaveValue('3');
  await field.fill('101');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('autoPause.afterFailures is at most 100')).toBeVisible();
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  expect(await autoPauseOf(jobId)).toEqual({ afterFailures: 3 });

  await field.fill('');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}\\?notice=saved`));
  await expect(page.getByTestId('job-auto-pause')).toHaveText('never');
  expect(await autoPauseOf(jobId)).toBeNull();
});
