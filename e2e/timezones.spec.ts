import { expect, test, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { adminApi, createJob, signIn } from './helpers';

// Times in the viewer's zone with the job's zone beside them. The browser is in Europe/Berlin (playwright.config.ts);
// a cron job in America/New_York shows Berlin wall time first and the New York time in brackets, on the jobs list
// and on the job page's next occurrences. A job in the viewer's own zone, or without one, shows no second time.
test.describe.configure({ mode: 'serial' });

const VIEWER_ZONE = 'Europe/Berlin';
const JOB_ZONE = 'America/New_York';
const suffix = Date.now().toString(36);
const tag = `tz-${suffix}`;

let page: Page;
let api: APIRequestContext;
let nyJobId = '';
let berlinJobId = '';
let intervalJobId = '';

// The formats of app/(dashboard)/_components/time.tsx, in the browser's locale (en-GB, playwright.config.ts).
const viewerFormat = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZone: VIEWER_ZONE,
});
const jobZoneFormat = new Intl.DateTimeFormat('en-GB', {
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZone: JOB_ZONE,
  timeZoneName: 'short',
});

/** The moment a Time cell shows, and what it shows: the viewer's time and (if any) the job zone's, brackets removed. */
async function readTime(cell: Locator): Promise<{ iso: string; viewer: string; zone: string | null }> {
  const time = cell.locator('time').first();
  await expect(time).toHaveAttribute('datetime', /Z$/);
  const iso = (await time.getAttribute('datetime')) ?? '';
  const zoneSpan = cell.locator('.zone');
  const zone = (await zoneSpan.count()) > 0 ? ((await zoneSpan.textContent()) ?? '').trim().replace(/^\(|\)$/g, '') : null;
  return { iso, viewer: ((await time.textContent()) ?? '').trim(), zone };
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  // 09:00 in New York: 15:00 in Berlin for most of the year (14:00 in the weeks the two switch DST apart).
  nyJobId = await createJob(api, {
    name: `ny morning ${suffix}`,
    type: 'log',
    payload: { message: 'good morning, New York' },
    schedule: { kind: 'cron', expression: '0 9 * * *', timezone: JOB_ZONE },
    tags: [tag],
  });
  berlinJobId = await createJob(api, {
    name: `berlin morning ${suffix}`,
    type: 'log',
    payload: { message: 'guten Morgen' },
    schedule: { kind: 'cron', expression: '0 9 * * *', timezone: VIEWER_ZONE },
    tags: [tag],
  });
  intervalJobId = await createJob(api, {
    name: `hourly ${suffix}`,
    type: 'log',
    payload: { message: 'tick' },
    schedule: { kind: 'interval', seconds: 3600 },
    tags: [tag],
  });
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  for (const id of [nyJobId, berlinJobId, intervalJobId]) if (id) await api.delete(`/api/jobs/${id}`);
  await page.close();
  await api.dispose();
});

test('the browser really is in the viewer zone', async () => {
  expect(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone)).toBe(VIEWER_ZONE);
});

test("jobs list: the next run in the viewer's time, the New York job's own time beside it", async () => {
  await page.goto(`/jobs?tag=${tag}`);
  const nextRun = (id: string) => page.locator(`table[aria-label="Jobs"] tbody tr[data-job-id="${id}"] td`).nth(4);

  const ny = await readTime(nextRun(nyJobId));
  const at = new Date(ny.iso);
  expect(ny.viewer).toBe(viewerFormat.format(at));
  expect(ny.viewer).toMatch(/, 1[45]:00:00$/);
  expect(ny.zone).toBe(jobZoneFormat.format(at));
  expect(ny.zone).toMatch(/09:00/);
  // The zone's name is at hand for the abbreviation.
  await expect(nextRun(nyJobId).locator('.zone')).toHaveAttribute('title', JOB_ZONE);

  // Same zone as the viewer, or no zone at all: one time only.
  const berlin = await readTime(nextRun(berlinJobId));
  expect(berlin.viewer).toMatch(/, 09:00:00$/);
  expect(berlin.zone).toBeNull();
  expect((await readTime(nextRun(intervalJobId))).zone).toBeNull();
});

test("job page: each next occurrence in the viewer's time with New York's beside it", async () => {
  await page.goto(`/jobs/${nyJobId}`);
  const items = page.getByTestId('next-occurrences').locator('li');
  await expect(items).toHaveCount(5);
  for (let i = 0; i < 5; i++) {
    const shown = await readTime(items.nth(i));
    const at = new Date(shown.iso);
    expect(shown.viewer).toBe(viewerFormat.format(at));
    expect(shown.zone).toBe(jobZoneFormat.format(at));
    expect(shown.zone).toMatch(/09:00/);
  }
  await expect(page.getByText(`the job's zone (${JOB_ZONE}) in brackets`)).toBeVisible();

  // The Berlin job's page: the viewer's zone is the job's, no brackets.
  await page.goto(`/jobs/${berlinJobId}`);
  await expect(page.getByTestId('next-occurrences').locator('li')).toHaveCount(5);
  await expect(page.getByTestId('next-occurrences').locator('.zone')).toHaveCount(0);
});
