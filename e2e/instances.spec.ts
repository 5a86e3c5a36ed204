import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { startApp, type StartedApp } from '../tests/support/app';
import { adminApi, jobRuns, markDocument, sameDocument, signIn } from './helpers';

// The cluster view: a second `next start` joins the shared database during the test, shows up live on the
// first instance's instances page, runs work, and is shown stopped (or lost) once it goes.
test.describe.configure({ mode: 'serial' });

const DATABASE_URL = process.env.E2E_DATABASE_URL ?? '';
const FIRST_ID = process.env.E2E_INSTANCE_ID ?? '';
const suffix = Date.now().toString(36);
const SECOND_ID = `e2e-second-${suffix}`;
const jobName = `cluster tick ${suffix}`;

interface RunJson {
  id: string;
  status: string;
  instanceId: string | null;
}

let page: Page;
let api: APIRequestContext;
let second: StartedApp | undefined;
let jobId = '';

function instanceRow(id: string) {
  return page.locator(`table[aria-label="Instances"] tbody tr[data-instance-id="${id}"]`);
}

/** Kills the second instance by its PID whatever state the test left it in; a no-op when it is gone. */
async function killSecond(): Promise<void> {
  if (!second) return;
  try {
    process.kill(second.pid, 'SIGKILL');
  } catch {
    // already exited
  }
  await second.stop('SIGKILL');
}

test.beforeAll(async ({ browser, baseURL }) => {
  expect(DATABASE_URL, 'global setup exports the e2e database URL').not.toBe('');
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await killSecond();
  if (jobId) await api.delete(`/api/jobs/${jobId}`);
  await page.close();
  await api.dispose();
});

test('a second instance appears live without a reload, runs work, and is shown stopped after SIGTERM', async () => {
  // Starting a production server and waiting for heartbeats takes a while on a loaded 2-core machine.
  test.setTimeout(150_000);
  try {
    await page.goto('/instances');
    await expect(page.locator('.live')).toHaveAttribute('data-live', 'live');
    await expect(instanceRow(FIRST_ID)).toHaveAttribute('data-state', 'live');
    await expect(instanceRow(SECOND_ID)).toHaveCount(0);
    await markDocument(page);

    second = await startApp({ databaseUrl: DATABASE_URL, env: { INSTANCE_ID: SECOND_ID }, readyTimeoutMs: 90_000 });
    expect(second.instanceId).toBe(SECOND_ID);

    // Pushed in by the live stream: the document is the one loaded before the instance existed.
    const row = instanceRow(SECOND_ID);
    await expect(row).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    await expect(row.locator('td[data-label="PID"]')).toHaveText(String(second.pid));
    expect(await sameDocument(page), 'updated in place').toBe(true);

    // Work every second, shared by both instances: the second one gets some of it.
    const created = await api.post('/api/jobs', {
      data: { name: jobName, type: 'log', payload: { message: 'tick' }, schedule: { kind: 'interval', seconds: 1 } },
    });
    expect(created.status(), await created.text()).toBe(201);
    jobId = ((await created.json()) as { id: string }).id;
    await expect
      .poll(
        async () => (await jobRuns<RunJson>(api, jobId, 100)).filter((r) => r.instanceId === SECOND_ID && r.status === 'succeeded').length,
        {
          timeout: 30_000,
          message: 'the second instance ran some of the job',
        },
      )
      .toBeGreaterThan(0);

    // Runs in the last hour: at least the ones just counted, and a link to exactly those runs.
    await page.reload();
    const count = row.getByTestId('runs-last-hour');
    await expect.poll(async () => Number((await count.innerText()).replace(/,/g, ''))).toBeGreaterThan(0);
    await expect(count.getByRole('link')).toHaveAttribute('href', `/runs?instance=${encodeURIComponent(SECOND_ID)}&range=1h`);

    await second.stop('SIGTERM');
    // A graceful stop writes stoppedAt; an instance that died without one is lost after 30 s of silence.
    await expect(row).toHaveAttribute('data-state', /^(stopped|lost)$/, { timeout: 45_000 });
    await expect(row.locator('.badge')).toHaveText(/^(stopped|lost)$/);
    await expect(instanceRow(FIRST_ID)).toHaveAttribute('data-state', 'live');
  } finally {
    await killSecond();
  }
});

test('one click from a run to the instance that ran it', async () => {
  expect(jobId, 'the previous test created the job').not.toBe('');
  await page.goto(`/runs?job=${jobId}&instance=${encodeURIComponent(SECOND_ID)}`);
  const runRow = page.locator('table[aria-label="Runs"] tbody tr').first();
  await expect(runRow).toBeVisible();
  await runRow.locator('a.instance').click();
  await expect(page).toHaveURL(new RegExp(`/instances#instance-${SECOND_ID}$`));
  const row = instanceRow(SECOND_ID);
  await expect(row).toHaveAttribute('id', `instance-${SECOND_ID}`);
  await expect(row).toHaveAttribute('data-state', /^(stopped|lost)$/);
  await expect(row).toBeInViewport();
});
