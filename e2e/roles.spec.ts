import { expect, request, test, type APIRequestContext, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { adminApi, signIn } from './helpers';

// Roles in the browser: a viewer sees no mutating control, and a forged mutation (API call, or any server action
// posted with the viewer's cookie, or a settings action with an operator's) is refused by the server and changes
// nothing. An admin manages users and tokens and reads the audit log.
test.describe.configure({ mode: 'serial' });

const DIST_DIR = process.env.E2E_DIST_DIR || '.next-e2e';
const viewerName = `viewer-${randomBytes(3).toString('hex')}`;
const viewerPassword = `pw-${randomBytes(12).toString('base64url')}`;

const operatorName = `operator-${randomBytes(3).toString('hex')}`;
const operatorPassword = `pw-${randomBytes(12).toString('base64url')}`;
const targetName = `target-${randomBytes(3).toString('hex')}`;
const targetPassword = `pw-${randomBytes(12).toString('base64url')}`;

let api: APIRequestContext;
let page: Page;
let jobId = '';
let jobName = '';
/** A paused job, so that a forged resume would change something. */
let pausedJobId = '';
/** A user and a token the forged settings actions aim at; the user has a live session. */
let targetUserId = '';
let targetTokenId = '';
/** A webhook channel the forged channel actions aim at (its target never answers: nothing may be sent to it). */
let targetChannelId = '';
/** A client signed in as the target user (its own cookie jar). */
let targetClient: APIRequestContext;

test.beforeAll(async ({ browser, baseURL }) => {
  api = await adminApi(baseURL);
  for (const [username, password, role] of [
    [viewerName, viewerPassword, 'viewer'],
    [operatorName, operatorPassword, 'operator'],
    [targetName, targetPassword, 'viewer'],
  ]) {
    const user = await api.post('/api/users', { data: { username, password, role } });
    expect(user.status()).toBe(201);
    if (username === targetName) targetUserId = ((await user.json()) as { id: string }).id;
  }
  jobName = `viewer target ${randomBytes(3).toString('hex')}`;
  const job = await api.post('/api/jobs', {
    data: { name: jobName, type: 'log', payload: { message: 'hi' }, schedule: { kind: 'interval', seconds: 3600 } },
  });
  expect(job.status()).toBe(201);
  jobId = ((await job.json()) as { id: string }).id;
  const paused = await api.post('/api/jobs', {
    data: {
      name: `paused target ${randomBytes(3).toString('hex')}`,
      type: 'log',
      payload: { message: 'hi' },
      schedule: { kind: 'interval', seconds: 3600 },
      paused: true,
    },
  });
  expect(paused.status()).toBe(201);
  pausedJobId = ((await paused.json()) as { id: string }).id;
  const token = await api.post('/api/tokens', { data: { name: `target token ${randomBytes(3).toString('hex')}`, role: 'viewer' } });
  expect(token.status()).toBe(201);
  targetTokenId = ((await token.json()) as { id: string }).id;
  const channel = await api.post('/api/channels', {
    data: { name: `target channel ${randomBytes(3).toString('hex')}`, type: 'webhook', config: { url: 'https://hooks.example.invalid/x' } },
  });
  expect(channel.status()).toBe(201);
  targetChannelId = ((await channel.json()) as { id: string }).id;
  targetClient = await request.newContext({ baseURL });
  expect((await targetClient.post('/api/session', { data: { username: targetName, password: targetPassword } })).status()).toBe(200);
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page.close();
  await targetClient.dispose();
  await api.dispose();
});

/** An argument of a server action: a JSON value, or `{ form }` for its FormData argument. */
type ActionArg = unknown;
interface Forged {
  status: number;
  /** The RSC payload: the action's return value (a state with its message) is in it as JSON. */
  text: string;
  /** Where the action redirected (x-action-redirect), if it did. */
  redirect: string | null;
}

/**
 * Posts a server action from `p` (with its cookie) the way React's client does: its id is public in the build, the
 * arguments are the bound ones followed by the call's. A FormData argument travels as "$K1" with its fields as
 * "_1_<name>" parts, the argument list last as part "0"; without one, the list is the whole (text) body.
 */
function forge(p: Page, pagePath: string, name: string, args: ActionArg[]): Promise<Forged> {
  return p.evaluate(
    async ({ pagePath, action, args }) => {
      const body = new FormData();
      let hasForm = false;
      const encoded = args.map((arg) => {
        if (arg && typeof arg === 'object' && 'form' in arg) {
          hasForm = true;
          for (const [field, value] of Object.entries((arg as { form: Record<string, string | string[]> }).form)) {
            for (const one of Array.isArray(value) ? value : [value]) body.append(`_1_${field}`, one);
          }
          return '$K1';
        }
        return arg;
      });
      body.append('0', JSON.stringify(encoded));
      const r = await fetch(pagePath, {
        method: 'POST',
        headers: hasForm
          ? { 'next-action': action, accept: 'text/x-component' }
          : { 'next-action': action, accept: 'text/x-component', 'content-type': 'text/plain;charset=UTF-8' },
        body: hasForm ? body : JSON.stringify(encoded),
        redirect: 'manual',
      });
      return { status: r.status, text: await r.text(), redirect: r.headers.get('x-action-redirect') };
    },
    { pagePath, action: actionId(name), args },
  );
}

/** Everything a forged action could change, as the admin API and the audit log show it. */
async function world(): Promise<string> {
  const read = async (path: string) => {
    const answer = await api.get(path);
    expect(answer.status(), path).toBe(200);
    return answer.json() as Promise<unknown>;
  };
  const forgedJobs = (await read(`/api/jobs?search=${encodeURIComponent('forged by')}`)) as { jobs: unknown[] };
  return JSON.stringify({
    job: await read(`/api/jobs/${jobId}`),
    paused: await read(`/api/jobs/${pausedJobId}`),
    runs: await read(`/api/jobs/${jobId}/runs`),
    pausedRuns: await read(`/api/jobs/${pausedJobId}/runs`),
    forgedJobs: forgedJobs.jobs,
    users: await read('/api/users'),
    tokens: await read('/api/tokens'),
    channels: await read('/api/channels'),
    // The newest entry: a refused action writes none (and nothing else writes while this runs).
    audit: ((await read('/api/audit?limit=1')) as { entries: Array<{ id: string }> }).entries[0]?.id,
  });
}

/** The target user's session is still live (a forged "End sessions" or disable would have ended it). */
async function targetSessionLive(): Promise<boolean> {
  const answer = await targetClient.get('/api/session');
  return answer.status() === 200 && ((await answer.json()) as { name: string }).name === targetName;
}

const settingsState = { error: undefined };
/** Every settings action with arguments that would change something for an admin. */
function settingsForgeries(): Array<[string, string, ActionArg[]]> {
  return [
    [
      '/settings/users',
      'createUserAction',
      [settingsState, { form: { username: `forged-${randomBytes(3).toString('hex')}`, password: 'forged-password-123', role: 'admin' } }],
    ],
    ['/settings/users', 'changeRoleAction', [targetUserId, settingsState, { form: { role: 'admin' } }]],
    ['/settings/users', 'setDisabledAction', [targetUserId, true, settingsState, { form: {} }]],
    ['/settings/users', 'resetPasswordAction', [targetUserId, settingsState, { form: { password: 'forged-password-123' } }]],
    ['/settings/users', 'revokeSessionsAction', [targetUserId, settingsState, { form: {} }]],
    ['/settings/users', 'deleteUserAction', [targetUserId, settingsState, { form: { confirm: 'yes' } }]],
    ['/settings/tokens', 'createTokenAction', [settingsState, { form: { name: 'forged token', role: 'admin' } }]],
    ['/settings/tokens', 'revokeTokenAction', [targetTokenId, settingsState, { form: {} }]],
    [
      '/settings/channels',
      'createChannelAction',
      ['slack', settingsState, { form: { name: 'forged channel', url: 'https://hooks.example.invalid/forged' } }],
    ],
    [
      '/settings/channels',
      'updateChannelAction',
      [targetChannelId, 'webhook', settingsState, { form: { name: 'forged', url: 'https://hooks.example.invalid/forged' } }],
    ],
    ['/settings/channels', 'deleteChannelAction', [targetChannelId, settingsState, { form: { confirm: 'yes' } }]],
    ['/settings/channels', 'testChannelAction', [targetChannelId, settingsState, { form: {} }]],
    ['/settings/channels', 'revealChannelSecretAction', [targetChannelId, settingsState, { form: {} }]],
  ];
}

function actionId(name: string): string {
  const manifest = JSON.parse(readFileSync(path.join(DIST_DIR, 'server', 'server-reference-manifest.json'), 'utf8')) as {
    node: Record<string, { exportedName?: string }>;
  };
  const id = Object.entries(manifest.node).find(([, entry]) => entry.exportedName === name)?.[0];
  if (!id) throw new Error(`server action ${name} not in the build`);
  return id;
}

test('a viewer sees the jobs list and a job, without any mutating control', async () => {
  await signIn(page, viewerName, viewerPassword);
  await expect(page.getByTestId('current-role')).toHaveText('viewer');
  await expect(page.getByRole('link', { name: jobName })).toBeVisible();
  await expect(page.getByRole('link', { name: 'New job' })).toHaveCount(0);
  await expect(page.getByRole('checkbox')).toHaveCount(0);
  await expect(page.getByRole('group', { name: 'Bulk actions' })).toHaveCount(0);
  for (const name of ['Audit', 'Users', 'Tokens'])
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name })).toHaveCount(0);

  await page.getByRole('link', { name: jobName }).click();
  await expect(page.getByRole('heading', { name: jobName, level: 1 })).toBeVisible();
  for (const name of ['Pause', 'Resume', 'Run now', 'Edit', 'Delete']) {
    await expect(page.getByRole('button', { name, exact: true })).toHaveCount(0);
    await expect(page.getByRole('link', { name, exact: true })).toHaveCount(0);
  }
  // No server-action form in the page body (React marks each with a hidden $ACTION_ input): only "Log out" has one.
  await expect(page.locator('main input[name^="$ACTION"]')).toHaveCount(0);

  // Typing the URL of a mutating page leads back with a refusal.
  await page.goto(`/jobs/${jobId}/edit`);
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}\\?notice=forbidden$`));
  await expect(page.getByRole('alert').filter({ hasText: 'may not' })).toBeVisible();
  await page.goto('/settings/users');
  await expect(page).toHaveURL(/\/jobs\?notice=forbidden$/);
});

test('a forged mutation with the viewer cookie is refused: API call and every server action, nothing changes', async () => {
  await page.goto(`/jobs/${jobId}`);
  const before = await world();
  expect(await targetSessionLive()).toBe(true);

  const apiAnswer = await page.evaluate(async (id) => {
    const r = await fetch(`/api/jobs/${id}/pause`, { method: 'POST' });
    return { status: r.status, body: await r.text() };
  }, jobId);
  expect(apiAnswer.status).toBe(403);

  // The job commands: no form on the page, but their ids are public in the build. Each redirects back with the
  // "forbidden" notice (which shows that the action ran, with the viewer's session, and refused).
  for (const [name, id] of [
    ['pauseJobAction', jobId],
    ['resumeJobAction', pausedJobId],
    ['runJobNowAction', jobId],
    ['deleteJobAction', jobId],
  ] as const) {
    const answer = await forge(page, `/jobs/${id}`, name, [id]);
    expect(answer.status, `${name}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
    expect(answer.redirect ?? '', name).toContain(`/jobs/${id}?notice=forbidden`);
  }

  // The job form (edit and create) and the bulk form answer with their refusal message.
  const form = {
    name: 'forged by a viewer',
    description: '',
    type: 'log',
    'payload.message': 'forged',
    'payload.level': 'info',
    'schedule.kind': 'interval',
    'schedule.seconds': '60',
    overlapPolicy: 'skip',
    missedPolicy: 'run-once',
    tags: '',
    timeoutSeconds: '300',
  };
  for (const target of [jobId, null]) {
    const answer = await forge(page, target ? `/jobs/${target}/edit` : '/jobs/new', 'saveJob', [
      target,
      { issues: [], message: null },
      { form },
    ]);
    expect(answer.status, answer.text.slice(0, 200)).toBeLessThan(500);
    expect(answer.text).toContain('Your role (viewer) may not change jobs.');
  }
  for (const action of ['pause', 'resume', 'delete']) {
    const answer = await forge(page, '/jobs', 'bulkJobsAction', [
      { message: null, ok: true, failed: [] },
      { form: { action, ids: [jobId, pausedJobId] } },
    ]);
    expect(answer.status, answer.text.slice(0, 200)).toBeLessThan(500);
    expect(answer.text).toContain('Your role (viewer) may not change jobs.');
  }

  // Every settings action: the admin role is checked on the server.
  for (const [path, name, args] of settingsForgeries()) {
    const answer = await forge(page, path, name, args);
    expect(answer.status, `${name}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
    expect(answer.text, name).toContain('this needs the admin role; you are a viewer');
  }

  expect(await world()).toBe(before);
  expect(await targetSessionLive()).toBe(true);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
});

test('an operator forging any settings action is refused and nothing changes', async ({ browser }) => {
  const operatorPage = await browser.newPage();
  try {
    await signIn(operatorPage, operatorName, operatorPassword);
    await expect(operatorPage.getByTestId('current-role')).toHaveText('operator');
    await operatorPage.goto('/settings/users');
    await expect(operatorPage).toHaveURL(/\/jobs\?notice=forbidden$/);
    const before = await world();
    for (const [path, name, args] of settingsForgeries()) {
      const answer = await forge(operatorPage, path, name, args);
      expect(answer.status, `${name}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
      expect(answer.text, name).toContain('this needs the admin role; you are an operator');
    }
    expect(await world()).toBe(before);
    expect(await targetSessionLive()).toBe(true);

    // The same forged call from an admin goes through (so the calls above did reach the actions): the token is revoked.
    const adminPage = await browser.newPage();
    try {
      await signIn(adminPage);
      const revoke = await forge(adminPage, '/settings/tokens', 'revokeTokenAction', [targetTokenId, settingsState, { form: {} }]);
      expect(revoke.text).toContain('Token revoked.');
    } finally {
      await adminPage.close();
    }
    const tokens = (await (await api.get('/api/tokens')).json()) as { tokens: Array<{ id: string; revokedAt: string | null }> };
    expect(tokens.tokens.find((t) => t.id === targetTokenId)?.revokedAt).not.toBeNull();
  } finally {
    await operatorPage.close();
  }
});

test('an admin sees the controls, creates a token shown once, and finds the viewer in the audit log', async () => {
  await signIn(page);
  await expect(page.getByTestId('current-role')).toHaveText('admin');
  await expect(page.getByRole('link', { name: 'New job' })).toBeVisible();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
  await page.getByLabel('Name').fill('e2e pipeline');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('new-token').textContent()) ?? '';
  expect(secret).toMatch(/^cpt_/);
  const viaToken = await api.get('/api/jobs', { headers: { authorization: `Bearer ${secret}` } });
  expect(viaToken.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await page.getByLabel('Actor').fill(viewerName);
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.locator('table[aria-label="Audit log"] tbody tr[data-action="login.success"]')).toHaveCount(1);
  await expect(page.locator('table[aria-label="Audit log"] tbody tr[data-action="logout"]')).toHaveCount(1);
});
