import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob as createJobVia, signIn } from './helpers';

// Pause with a note (issue #14, item 7): the operator types why on the job page; the job page and the jobs list say who
// paused it, when and why; resume clears it. Also the bulk pause's note, and a refused note that pauses nothing.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const tag = `pause-note-${suffix}`;
const NOTE = `waiting for the DB migration ${suffix}`;

let page: Page;
let api: APIRequestContext;
let jobId = '';
let jobName = '';
const bulkIds: string[] = [];

interface PauseJson {
  at: string;
  by: { type: string; id: string | null; name: string };
  note: string | null;
}

async function pauseOf(id: string): Promise<{ paused: boolean; pause: PauseJson | null }> {
  const response = await api.get(`/api/jobs/${id}`);
  expect(response.ok()).toBe(true);
  return (await response.json()) as { paused: boolean; pause: PauseJson | null };
}

function row(p: Page, id: string) {
  return p.locator(`table[aria-label="Jobs"] tbody tr[data-job-id="${id}"]`);
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  jobName = `pause note ${suffix}`;
  jobId = await createJobVia(api, {
    name: jobName,
    type: 'log',
    payload: { message: 'x' },
    schedule: { kind: 'interval', seconds: 3600 },
    tags: [tag],
  });
  for (const n of [1, 2]) {
    bulkIds.push(
      await createJobVia(api, {
        name: `pause note bulk ${n} ${suffix}`,
        type: 'log',
        payload: { message: 'x' },
        schedule: { kind: 'interval', seconds: 3600 },
        tags: [tag],
      }),
    );
  }
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  await api.dispose();
});

test('pause with a note on the job page; the job page and the jobs list show who, when and why', async () => {
  await page.goto(`/jobs/${jobId}`);
  await expect(page.getByTestId('pause-record')).toHaveCount(0);
  await page.getByLabel('Pause note').fill(`  ${NOTE}  `);
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Job paused' })).toBeVisible();

  const record = page.getByTestId('pause-record');
  await expect(record).toContainText('Paused by admin at');
  await expect(record).toHaveText(new RegExp(`^Paused by admin at .+: ${NOTE}$`));
  await expect(record.locator('q')).toHaveText(NOTE, { useInnerText: false });
  await expect(record.locator('time')).toHaveCount(1);
  const stored = await pauseOf(jobId);
  expect(stored.paused).toBe(true);
  expect(stored.pause?.note).toBe(NOTE);
  expect(stored.pause?.by).toMatchObject({ type: 'user', name: 'admin' });

  await page.goto(`/jobs?tag=${tag}`);
  const cell = row(page, jobId).getByTestId('pause-note');
  await expect(row(page, jobId).locator('.badge-paused')).toBeVisible();
  await expect(cell).toHaveText(`by admin: ${NOTE}`);
  await expect(cell).toHaveAttribute('title', `Paused ${stored.pause?.at}`);

  // The audit log's entry of the pause carries the note.
  await page.goto(`/audit?targetId=${jobId}&action=job.pause`);
  await expect(page.locator('main')).toContainText(NOTE);

  // Resume clears it on both pages.
  await page.goto(`/jobs/${jobId}`);
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Job resumed' })).toBeVisible();
  await expect(page.getByTestId('pause-record')).toHaveCount(0);
  expect((await pauseOf(jobId)).pause).toBeNull();
  await page.goto(`/jobs?tag=${tag}`);
  await expect(row(page, jobId).getByTestId('pause-note')).toHaveCount(0);
});

test('a note the server refuses pauses nothing and says why', async () => {
  await page.goto(`/jobs/${jobId}`);
  // The box stops typing at 500 characters; a forged longer value is refused by the server.
  await page.getByLabel('Pause note').evaluate((input) => {
    (input as HTMLInputElement).removeAttribute('maxlength');
    (input as HTMLInputElement).value = 'x'.repeat(501);
  });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(page.locator('p.alert-error[role="alert"]')).toContainText('The pause note must be one line');
  expect((await pauseOf(jobId)).paused).toBe(false);
});

test('bulk pause takes the same note', async () => {
  await page.goto(`/jobs?tag=${tag}`);
  for (const id of bulkIds) await row(page, id).locator('input[name="ids"]').check();
  await page.getByLabel('Pause note for the selected jobs').fill('maintenance window');
  await page.getByRole('button', { name: 'Pause selected' }).click();
  await expect(page.getByTestId('bulk-result')).toContainText('2 jobs paused');
  for (const id of bulkIds) {
    await expect(row(page, id).getByTestId('pause-note')).toHaveText('by admin: maintenance window');
    expect((await pauseOf(id)).pause?.note).toBe('maintenance window');
  }
  expect((await pauseOf(jobId)).paused).toBe(false);
});
