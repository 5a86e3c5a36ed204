import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { adminApi, signIn } from './helpers';

// One operator, keyboard only (no click, no fill): Tab to "New job", fill the form with keys, submit with Enter,
// then pause the new job from its page with the keyboard.
test.describe.configure({ mode: 'serial' });

const suffix = Date.now().toString(36);
const jobName = `keyboard ${suffix}`;

let page: Page;
let api: APIRequestContext;
let jobId = '';

/** What has the focus: tag, id, name, type, value and text, for deciding when to stop tabbing. */
function focused(p: Page): Promise<{ tag: string; id: string; name: string; type: string; value: string; text: string }> {
  return p.evaluate(() => {
    const el = document.activeElement as HTMLInputElement | null;
    return {
      tag: el?.tagName.toLowerCase() ?? '',
      id: el?.id ?? '',
      name: el?.getAttribute('name') ?? '',
      type: el?.getAttribute('type') ?? '',
      value: el && 'value' in el ? String(el.value) : '',
      text: (el?.textContent ?? '').trim(),
    };
  });
}

/** Presses Tab until `wanted` holds for the focused element (at most `max` times); fails naming what had the focus. */
async function tabTo(p: Page, what: string, wanted: (f: Awaited<ReturnType<typeof focused>>) => boolean, max = 60): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await p.keyboard.press('Tab');
    const f = await focused(p);
    if (wanted(f)) return;
    seen.push(f.id || f.name || `${f.tag}:${f.text.slice(0, 20)}`);
  }
  throw new Error(`Tab never reached ${what}; focus went through: ${seen.join(' | ')}`);
}

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  page = await browser.newPage();
  await signIn(page);
});

test.afterAll(async () => {
  if (jobId) await api.delete(`/api/jobs/${jobId}`);
  await page.close();
  await api.dispose();
});

test('Tab to "New job", fill the form by keyboard, submit with Enter', async () => {
  await page.goto('/jobs');
  await tabTo(page, 'the New job link', (f) => f.tag === 'a' && f.text === 'New job');
  // The focus can be seen: an outline or a ring.
  const ring = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement as Element);
    return { outline: style.outlineStyle, width: style.outlineWidth, shadow: style.boxShadow };
  });
  expect((ring.outline !== 'none' && ring.width !== '0px') || ring.shadow !== 'none', JSON.stringify(ring)).toBe(true);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/jobs\/new$/);
  await expect(page.getByRole('heading', { name: 'New job' })).toBeVisible();

  await tabTo(page, 'the name field', (f) => f.id === 'f-name');
  await page.keyboard.type(jobName);
  await tabTo(page, 'the type select', (f) => f.id === 'f-type', 3);
  // A closed select takes arrow keys: walk to the log type.
  for (let i = 0; i < 5 && (await focused(page)).value !== 'log'; i++) await page.keyboard.press('ArrowDown');
  expect((await focused(page)).value).toBe('log');
  await tabTo(page, 'the message field', (f) => f.id === 'f-payload-message', 3);
  // It holds the type's example message: select it all, type over it.
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('typed, not clicked');

  // The schedule kind is a radio group: Tab lands on the checked radio, arrows move the choice.
  await tabTo(page, 'the schedule kind', (f) => f.name === 'schedule.kind', 5);
  for (let i = 0; i < 3 && (await focused(page)).value !== 'interval'; i++) await page.keyboard.press('ArrowRight');
  expect((await focused(page)).value).toBe('interval');
  await expect(page.getByLabel('Every N seconds')).toBeChecked();
  await tabTo(page, 'the interval field', (f) => f.id === 'f-schedule-seconds', 3);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('90');
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 90 seconds');

  // Enter in a text field submits the form.
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}\?notice=created$/);
  jobId = /\/jobs\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? '';
  await expect(page.getByRole('heading', { level: 1 })).toContainText(jobName);
  await expect(page.getByTestId('schedule-words')).toHaveText('Every 90 seconds');
  const job = (await (await api.get(`/api/jobs/${jobId}`)).json()) as {
    type: string;
    payload: unknown;
    schedule: unknown;
    paused: boolean;
  };
  expect(job).toMatchObject({
    type: 'log',
    payload: { message: 'typed, not clicked', level: 'info' },
    schedule: { kind: 'interval', seconds: 90 },
    paused: false,
  });
});

test('pause the job with the keyboard', async () => {
  await tabTo(page, 'the Pause button', (f) => f.tag === 'button' && f.text === 'Pause');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toContainText('paused');
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  await expect(page.getByText('Paused: nothing is scheduled until the job is resumed.')).toBeVisible();
  const job = (await (await api.get(`/api/jobs/${jobId}`)).json()) as { paused: boolean; nextRunAt: string | null };
  expect(job).toMatchObject({ paused: true, nextRunAt: null });
});
