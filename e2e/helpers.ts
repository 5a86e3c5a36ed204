import { expect, request as playwrightRequest, type APIRequestContext, type Page } from '@playwright/test';

// Set by global setup (e2e/global-setup.ts); workers inherit them.
export const ADMIN_PASSWORD = process.env.E2E_ADMIN_PASSWORD ?? '';
export const API_TOKEN = process.env.E2E_API_TOKEN ?? '';

/** A REST client authenticated with the admin API token global setup created. */
export function adminApi(baseURL: string | undefined): Promise<APIRequestContext> {
  return playwrightRequest.newContext({ baseURL, extraHTTPHeaders: { authorization: `Bearer ${API_TOKEN}` } });
}

/** Signs in through the login form and waits for the landing page (the jobs list). */
export async function signIn(p: Page, username = 'admin', password = ADMIN_PASSWORD): Promise<void> {
  await p.goto('/login');
  await p.getByLabel('Username').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await expect(p).toHaveURL(/\/jobs$/);
}

/** Creates a job through the REST API (as another client would); its id. */
export async function createJob(api: APIRequestContext, body: Record<string, unknown>): Promise<string> {
  const response = await api.post('/api/jobs', { data: body });
  expect(response.status(), await response.text()).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** A job's runs, newest first, as the REST API returns them. */
export async function jobRuns<R>(api: APIRequestContext, id: string, limit: number): Promise<R[]> {
  const response = await api.get(`/api/jobs/${id}/runs?limit=${limit}`);
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { runs: R[] }).runs;
}

/** Marks the document; a reload or full navigation loses the mark. */
export async function markDocument(p: Page): Promise<void> {
  await p.evaluate(() => {
    (window as unknown as { __sameDocument?: boolean }).__sameDocument = true;
  });
}

/** Whether the document marked by markDocument is still the one shown (the page updated in place). */
export async function sameDocument(p: Page): Promise<boolean> {
  return p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);
}
