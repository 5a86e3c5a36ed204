import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { Webhook } from 'standardwebhooks';
import { signIn } from './helpers';

// Settings -> Channels (issue #14, item 1): an admin creates a Slack-shaped channel and a webhook channel in the UI and
// sends a test alert through each to a receiver on this machine (the e2e app allows 127.0.0.1); the webhook's
// signing secret is shown once and verifies what the receiver got; the URL's secret is shown masked.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
let page: Page;
let receiver: Server;
let base = '';
const hits: Array<{ url: string; headers: Record<string, string>; body: string }> = [];

test.beforeAll(async ({ browser }) => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers as Record<string, string>, body });
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  await page.close();
  await new Promise((resolve) => receiver.close(resolve));
});

function row(name: string) {
  return page.locator(`table[aria-label="Alert channels"] tbody tr[data-channel="${name}"]`);
}

test('create a Slack channel and send a test alert: the receiver gets the text, the page says it was sent', async () => {
  await page.goto('/settings/channels');
  await page.getByText('New Slack / Mattermost channel').click();
  const form = page.getByRole('form', { name: 'New slack channel' });
  const name = `e2e slack ${suffix}`;
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Incoming webhook URL').fill(`${base}/services/T0/B0/e2e-slack-secret`);
  await form.getByRole('button', { name: 'Create channel' }).click();
  await expect(form.getByRole('status')).toContainText(`Channel ${name} created.`);
  await expect(row(name)).toContainText('••••');
  await expect(row(name)).not.toContainText('e2e-slack-secret');

  hits.length = 0;
  await row(name).getByRole('button', { name: 'Send test alert' }).click();
  await expect(row(name).getByRole('status')).toContainText('Test alert sent');
  expect(hits).toHaveLength(1);
  expect(hits[0]!.url).toBe('/services/T0/B0/e2e-slack-secret');
  expect((JSON.parse(hits[0]!.body) as { text: string }).text).toContain(`Test alert from Cronplane: channel ${name}`);
});

test('create a webhook channel: its signing secret is shown once and verifies the test alert', async () => {
  await page.goto('/settings/channels');
  await page.getByText('New Webhook channel').click();
  const form = page.getByRole('form', { name: 'New webhook channel' });
  const name = `e2e webhook ${suffix}`;
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('URL').fill(`${base}/hook?token=e2e-webhook-secret`);
  await form.getByRole('button', { name: 'Create channel' }).click();
  const secret = (await form.getByTestId('new-token').textContent()) ?? '';
  expect(secret).toMatch(/^whsec_/);
  await expect(row(name)).toContainText('/hook?••••');

  hits.length = 0;
  await row(name).getByRole('button', { name: 'Send test alert' }).click();
  await expect(row(name).getByRole('status')).toContainText('Test alert sent');
  expect(hits).toHaveLength(1);
  const payload = new Webhook(secret).verify(hits[0]!.body, hits[0]!.headers) as { type: string };
  expect(payload.type).toBe('test');
});
