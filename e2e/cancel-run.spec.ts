import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob as createJobVia, jobRuns, signIn } from './helpers';

// Cancel (issue #14, item 4): an operator cancels a long run with the button on the run page, and another from the job
// page's runs in progress; the handler's request to a local target is cut off, and the run shows cancelled, by whom
// and why.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const REASON = `stuck on the remote side ${suffix}`;

interface RunJson {
  id: string;
  status: string;
  startedAt: string | null;
  cancel: { by: { name: string }; reason: string | null } | null;
}

let page: Page;
let api: APIRequestContext;
let server: Server;
let target = '';
/** Each request the target got: its path and whether the caller went away (the handler was aborted). */
const requests: Array<{ path: string; closed: boolean }> = [];
/** The jobs this spec made: deleted afterwards (the specs share one app; later ones expect an empty list). */
const created: string[] = [];

async function startLongRun(name: string): Promise<{ jobId: string; run: RunJson; path: string }> {
  const path = `/hang/${name.replaceAll(' ', '-')}`;
  const jobId = await createJobVia(api, {
    name: `${name} ${suffix}`,
    type: 'http',
    payload: { url: `${target}${path}` },
    schedule: { kind: 'once', at: new Date(Date.now() + 1_000).toISOString() },
    timeoutSeconds: 600,
  });
  created.push(jobId);
  let run: RunJson | undefined;
  await expect(async () => {
    run = (await jobRuns<RunJson>(api, jobId, 1))[0];
    expect(run?.status).toBe('running');
    expect(requests.some((r) => r.path === path)).toBe(true);
  }).toPass({ timeout: 20_000 });
  return { jobId, run: run!, path };
}

test.beforeAll(async ({ browser, baseURL }) => {
  // The target answers nothing: the handler waits until it is aborted.
  server = createServer((req, res) => {
    const record = { path: req.url ?? '', closed: false };
    requests.push(record);
    res.on('close', () => (record.closed = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  for (const id of created) expect((await api.delete(`/api/jobs/${id}`)).status()).toBe(204);
  await api.dispose();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('cancel a long run with the button on its page: asked to confirm, the handler stops, the run shows who and why', async () => {
  const { jobId, run, path } = await startLongRun('cancel me');
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('running');
  await page.getByRole('button', { name: 'Cancel run…' }).click();
  // Nothing happens before the confirmation.
  const confirm = page.getByRole('form', { name: 'Cancel the run' });
  await expect(confirm).toBeVisible();
  await confirm.getByLabel('Cancel reason').fill(REASON);
  await confirm.getByRole('button', { name: 'Cancel the run' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Cancel requested' })).toBeVisible();

  await expect.poll(() => requests.find((r) => r.path === path)?.closed, { timeout: 5_000 }).toBe(true);
  await expect.poll(async () => (await jobRuns<RunJson>(api, jobId, 1))[0]?.status, { timeout: 10_000 }).toBe('cancelled');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('cancelled');
  const line = page.getByTestId('run-cancel');
  await expect(line).toContainText('by admin at');
  await expect(line.locator('q')).toHaveText(REASON, { useInnerText: false });
  await expect(page.getByRole('button', { name: 'Cancel run…' })).toHaveCount(0);
  const stored = (await jobRuns<RunJson>(api, jobId, 1))[0]!;
  expect(stored.cancel).toMatchObject({ by: { name: 'admin' }, reason: REASON });
});

test("cancel from the job page's runs in progress", async () => {
  const { jobId, path } = await startLongRun('cancel from job page');
  await page.goto(`/jobs/${jobId}`);
  const active = page.getByTestId('active-run');
  await expect(active).toHaveCount(1);
  await active.getByRole('button', { name: 'Cancel run…' }).click();
  await active.getByRole('button', { name: 'Cancel the run' }).click();
  await expect(active.getByRole('status')).toContainText('Cancel requested');
  await expect.poll(() => requests.find((r) => r.path === path)?.closed, { timeout: 5_000 }).toBe(true);
  await expect.poll(async () => (await jobRuns<RunJson>(api, jobId, 1))[0]?.status, { timeout: 10_000 }).toBe('cancelled');
});
