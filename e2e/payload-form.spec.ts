import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, signIn } from './helpers';

// The create form is generated from the job type's payload schema: a one-off ("once") log job and an http job with
// a method (choice list), headers (a "Name: value" record, one of them a secret), a body, a timeout and an expected
// status (integers), all entered through the form; the job page and the edit form then show those values back.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const onceJob = `one-off ${suffix}`;
const httpJob = `webhook ${suffix}`;
const SECRET = 'Bearer e2e-secret-token-9876';

let page: Page;
let api: APIRequestContext;
const created: string[] = [];

interface JobJson {
  id: string;
  paused: boolean;
  nextRunAt: string | null;
  schedule: { kind: string; at?: string };
  payload: Record<string, unknown>;
}

async function jobJson(id: string): Promise<JobJson> {
  const response = await api.get(`/api/jobs/${id}`);
  expect(response.ok()).toBe(true);
  return (await response.json()) as JobJson;
}

const idFromUrl = (p: Page): string => /\/jobs\/([0-9a-f-]{36})/.exec(p.url())?.[1] ?? '';

/** A wall-clock time in the browser's zone (Europe/Berlin) for a datetime-local input, and the instant it means. */
function berlinLocal(daysAhead: number, hh: number, mm: number): { local: string; iso: string } {
  const now = new Date();
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + daysAhead));
  const date = day.toISOString().slice(0, 10);
  const local = `${date}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
  // Berlin is UTC+1 or UTC+2: the instant whose Berlin wall clock reads `local`.
  for (const offset of [1, 2]) {
    const candidate = new Date(Date.parse(`${local}:00Z`) - offset * 3600_000);
    const shown = new Intl.DateTimeFormat('sv-SE', {
      timeZone: 'Europe/Berlin',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .format(candidate)
      .replace(' ', 'T');
    if (shown === local) return { local, iso: candidate.toISOString() };
  }
  throw new Error(`no Berlin instant for ${local}`);
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  for (const id of created) await api.delete(`/api/jobs/${id}`);
  await page.close();
  await api.dispose();
});

test('a one-off job: "Once" at a local time, stored as that instant, shown again when editing', async () => {
  const when = berlinLocal(3, 10, 30);
  await page.goto('/jobs/new');
  await page.getByLabel('Name', { exact: true }).fill(onceJob);
  await page.getByLabel('Type').selectOption('log');
  await page.getByLabel(/^Message/).fill('runs exactly once');
  await page.getByLabel('Level').selectOption('warn');
  await page.getByLabel('Once', { exact: true }).check();
  await page.getByLabel('Run at (your local time)').fill(when.local);
  await expect(page.locator('.preview .occurrences time')).toHaveAttribute('datetime', when.iso);
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}\?notice=created$/);
  const id = idFromUrl(page);
  created.push(id);

  await expect(page.locator('code', { hasText: /^once / })).toHaveText(`once ${when.iso}`);
  await expect(page.getByTestId('next-occurrences').locator('li')).toHaveCount(1);
  await expect(page.getByTestId('next-occurrences').locator('time')).toHaveAttribute('datetime', when.iso);
  const job = await jobJson(id);
  expect(job.schedule).toEqual({ kind: 'once', at: when.iso });
  expect(job.nextRunAt).toBe(when.iso);
  expect(job.payload).toEqual({ message: 'runs exactly once', level: 'warn' });

  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Once', { exact: true })).toBeChecked();
  await expect(page.getByLabel('Run at (your local time)')).toHaveValue(when.local);
  await expect(page.getByLabel('Type')).toHaveValue('log');
  await expect(page.getByLabel(/^Message/)).toHaveValue('runs exactly once');
  await expect(page.getByLabel('Level')).toHaveValue('warn');
  // Saving unchanged keeps the same occurrence.
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(/\?notice=saved$/);
  expect((await jobJson(id)).nextRunAt).toBe(when.iso);
});

test('an http job: method, headers (one secret), body, timeout and expected status through the form', async () => {
  await page.goto('/jobs/new');
  await page.getByLabel('Name', { exact: true }).fill(httpJob);
  await page.getByLabel('Type').selectOption('http');
  // The fields the http schema asks for.
  for (const label of [/^Method/, /^URL/, /^Headers/, /^Body/, /^Timeout seconds/, /^Expected status/])
    await expect(page.getByLabel(label)).toBeVisible();
  await expect(page.getByLabel(/^Method/).locator('option')).toHaveText(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
  await page.getByLabel(/^Method/).selectOption('PUT');
  await page.getByLabel(/^URL/).fill('https://hooks.example.com/cronplane');
  await page.getByLabel(/^Headers/).fill(`Content-Type: application/json\nX-Trace: e2e-${suffix}\nAuthorization: ${SECRET}`);
  await page.getByLabel(/^Body/).fill('{"hello":"world"}');
  await page.getByLabel(/^Timeout seconds/).fill('45');
  await page.getByLabel(/^Expected status/).fill('202');
  await page.getByLabel('Every N seconds').check();
  await page.getByLabel('Interval (seconds)').fill('86400');
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}\?notice=created$/);
  const id = idFromUrl(page);
  created.push(id);

  const payload = (await jobJson(id)).payload;
  expect(payload).toEqual({
    method: 'PUT',
    url: 'https://hooks.example.com/cronplane',
    headers: { 'Content-Type': 'application/json', 'X-Trace': `e2e-${suffix}`, Authorization: expect.stringMatching(/^••••/) },
    body: '{"hello":"world"}',
    timeoutSeconds: 45,
    expectedStatus: 202,
  });
  // The job page shows the payload, the secret masked.
  const shown = page.locator('dd pre.code');
  await expect(shown).toContainText('"method": "PUT"');
  await expect(shown).toContainText('"expectedStatus": 202');
  await expect(shown).not.toContainText('e2e-secret-token');

  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Type')).toHaveValue('http');
  await expect(page.getByLabel(/^Method/)).toHaveValue('PUT');
  await expect(page.getByLabel(/^URL/)).toHaveValue('https://hooks.example.com/cronplane');
  const headers = await page.getByLabel(/^Headers/).inputValue();
  // One "Name: value" line per header (jsonb keeps its own key order).
  expect(headers.split('\n').sort()).toEqual([
    expect.stringMatching(/^Authorization: ••••/),
    'Content-Type: application/json',
    `X-Trace: e2e-${suffix}`,
  ]);
  expect(headers).not.toContain('e2e-secret-token');
  await expect(page.getByLabel(/^Body/)).toHaveValue('{"hello":"world"}');
  await expect(page.getByLabel(/^Timeout seconds/)).toHaveValue('45');
  await expect(page.getByLabel(/^Expected status/)).toHaveValue('202');

  // An edit that changes a field and sends the masked secret back keeps the stored secret.
  await page.getByLabel(/^Expected status/).fill('200');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(/\?notice=saved$/);
  const after = (await jobJson(id)).payload;
  expect(after.expectedStatus).toBe(200);
  expect(after.headers).toEqual(payload.headers);
});

test('an operator marks any header secret in the form: stored masked, kept on edit', async () => {
  const tenant = `tenant-${suffix}-0123456789`;
  await page.goto('/jobs/new');
  await page.getByLabel('Name', { exact: true }).fill(`marked ${suffix}`);
  await page.getByLabel('Type').selectOption('http');
  await page.getByLabel(/^URL/).fill('https://hooks.example.com/tenant');
  await page.getByLabel(/^Headers/).fill(`X-Tenant: ${tenant}\nX-Region: eu`);
  await page.getByLabel(/^Secret headers/).fill('X-Tenant');
  await page.getByLabel('Every N seconds').check();
  await page.getByLabel('Interval (seconds)').fill('86400');
  await page.getByRole('button', { name: 'Create job' }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}\?notice=created$/);
  const id = idFromUrl(page);
  created.push(id);

  const payload = (await jobJson(id)).payload;
  expect(payload.headers).toEqual({ 'X-Tenant': expect.stringMatching(/^••••/), 'X-Region': 'eu' });
  expect(payload.secretHeaders).toEqual(['X-Tenant']);
  await expect(page.locator('dd pre.code')).not.toContainText(tenant);

  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel(/^Secret headers/)).toHaveValue('X-Tenant');
  expect(await page.getByLabel(/^Headers/).inputValue()).not.toContain(tenant);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(/\?notice=saved$/);
  expect((await jobJson(id)).payload.headers).toEqual(payload.headers);
});
