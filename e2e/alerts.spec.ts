import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, createJob, signIn } from './helpers';

// Alerts (issue #14): an operator adds an alert rule to a job in the form (a channel picked from the channels), a run of
// the job fails, and its alert is listed on the Alerts page and in the job page's section. The channel is made in the
// database directly (the channel screens are another part of the issue); its receiver is a local server.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const DATABASE_URL = process.env.E2E_DATABASE_URL ?? '';

let page: Page;
let api: APIRequestContext;
let receiver: Server;
let hits = 0;
let jobId = '';
const jobName = `alerting job ${suffix}`;
const channelName = `e2e hooks ${suffix}`;
let closeStore: () => Promise<void> = async () => undefined;

test.beforeAll(async ({ browser, baseURL }) => {
  receiver = createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { createPostgresStore } = await import('../lib/store/postgres');
  const { sealChannelConfig } = await import('../lib/secrets/channels');
  const { encryptSecret } = await import('../lib/secrets');
  const { newSigningSecret } = await import('../lib/secrets/signing');
  const store = await createPostgresStore(DATABASE_URL, 'postgres (e2e)');
  closeStore = () => store.close();
  await store.createChannel({
    name: channelName,
    type: 'webhook',
    config: sealChannelConfig('webhook', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }),
    signingSecret: encryptSecret(newSigningSecret()),
    dailyCap: null,
  });
  api = await adminApi(baseURL);
  // A job whose run fails: its target refuses (nothing listens on port 9 of this machine).
  jobId = await createJob(api, {
    name: jobName,
    type: 'http',
    payload: { url: 'http://127.0.0.1:9/down' },
    schedule: { kind: 'interval', seconds: 86_400 },
  });
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page?.close();
  // The specs share one app: later ones (the dashboard's first-run view among them) expect no job of this one.
  if (jobId) expect((await api.delete(`/api/jobs/${jobId}`)).status()).toBe(204);
  await api.dispose();
  await closeStore();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

test('a rule made in the job form sends a failed run to its channel; the Alerts page lists it', async () => {
  await page.goto(`/jobs/${jobId}/edit`);
  const rules = page.getByTestId('alert-rules');
  await rules.getByLabel('Add a rule: channel').selectOption({ label: `${channelName} (webhook)` });
  await expect(rules.getByLabel('failure', { exact: true })).toBeChecked();
  await rules.getByLabel('recovery', { exact: true }).check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}(\\?notice=saved)?$`));

  const saved = (await (await api.get(`/api/jobs/${jobId}`)).json()) as { alerts: Array<{ on: string[]; throttleSeconds: number }> };
  expect(saved.alerts).toHaveLength(1);
  expect(saved.alerts[0]!.on).toEqual(['failure', 'recovery']);

  expect((await api.post(`/api/jobs/${jobId}/run`)).ok()).toBe(true);
  await expect(async () => {
    await page.goto(`/alerts?event=failure`);
    const row = page.locator('table[aria-label="Alerts"] tbody tr', { hasText: jobName });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(channelName);
    await expect(row).toHaveAttribute('data-status', 'sent');
  }).toPass({ timeout: 30_000 });
  expect(hits).toBe(1);

  // The job page's section shows it too, and the API lists it with its message id.
  await page.goto(`/jobs/${jobId}`);
  await expect(page.locator('table[aria-label="Latest alerts"] tbody tr[data-event="failure"]')).toHaveCount(1);
  const listed = (await (await api.get(`/api/alerts?jobId=${jobId}`)).json()) as { alerts: Array<{ messageId: string; status: string }> };
  expect(listed.alerts).toHaveLength(1);
  expect(listed.alerts[0]!.messageId).toMatch(/^alrt_/);
});
