'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { ForbiddenError, hasRole } from '@/lib/auth/principal';
import { requireActor, requireSession } from '@/lib/auth/session';
import { ConflictError, NotFoundError, ValidationError, type FieldIssue } from '@/lib/errors';
import { getJobType } from '@/lib/jobs/registry';
import { logger } from '@/lib/log';
import { parsePayloadFields, payloadFields, type JsonSchemaNode } from '@/lib/presenters/payload-fields';
import { createJob, deleteJob, getJob, pauseJob, resumeJob, runJobNow, updateJob } from '@/lib/services/jobs';
import type { Schedule } from '@/lib/validation/schedule';
import type { Actor } from '@/lib/auth/principal';
import type { JobFormState } from '@/lib/presenters/job-form-state';

function text(fd: FormData, name: string): string {
  const value = fd.get(name);
  return typeof value === 'string' ? value : '';
}

/** A number when the text is one, else the text itself so the schema names the problem. */
function numberOrText(value: string): number | string | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

function scheduleFrom(fd: FormData): unknown {
  const kind = text(fd, 'schedule.kind');
  switch (kind) {
    case 'cron':
      return { kind, expression: text(fd, 'schedule.expression'), timezone: text(fd, 'schedule.timezone') || 'UTC' };
    case 'interval':
      return { kind, seconds: numberOrText(text(fd, 'schedule.seconds')) };
    case 'once':
      return { kind, at: text(fd, 'schedule.at') };
    default:
      return { kind };
  }
}

function sameSchedule(a: Schedule, b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const s = b as Record<string, unknown>;
  if (a.kind !== s.kind) return false;
  switch (a.kind) {
    case 'cron':
      return a.expression === String(s.expression ?? '').trim() && a.timezone === String(s.timezone ?? '').trim();
    case 'interval':
      return a.seconds === s.seconds;
    case 'once':
      return new Date(a.at).getTime() === new Date(String(s.at)).getTime();
  }
}

function inputFrom(fd: FormData): { input: Record<string, unknown>; issues: FieldIssue[] } {
  const type = text(fd, 'type');
  const jobType = getJobType(type);
  let payload: Record<string, unknown> = {};
  let issues: FieldIssue[] = [];
  if (jobType) {
    const fields = payloadFields(z.toJSONSchema(jobType.payloadSchema, { io: 'input' }) as JsonSchemaNode);
    const parsed = parsePayloadFields(fields, (name) => {
      const value = fd.get(`payload.${name}`);
      return typeof value === 'string' ? value : null;
    });
    payload = parsed.payload;
    issues = parsed.issues;
  }
  const input: Record<string, unknown> = {
    name: text(fd, 'name'),
    description: text(fd, 'description'),
    type,
    payload,
    schedule: scheduleFrom(fd),
    overlapPolicy: text(fd, 'overlapPolicy'),
    missedPolicy: text(fd, 'missedPolicy'),
    tags: text(fd, 'tags')
      .split(/[\s,]+/)
      .filter((tag) => tag !== ''),
  };
  const timeout = numberOrText(text(fd, 'timeoutSeconds'));
  if (timeout !== undefined) input.timeoutSeconds = timeout;
  // Only when the form has the fields (it always does; other callers may not): a missing field takes the default.
  if (fd.has('retry.maxAttempts')) {
    const retry: Record<string, unknown> = {};
    for (const key of ['maxAttempts', 'backoffSeconds', 'maxBackoffSeconds'] as const) {
      const value = numberOrText(text(fd, `retry.${key}`));
      if (value !== undefined) retry[key] = value;
    }
    input.retry = retry;
  }
  // An empty box means no limit.
  if (fd.has('concurrencyLimit')) input.concurrencyLimit = numberOrText(text(fd, 'concurrencyLimit')) ?? null;
  // An empty box means never.
  if (fd.has('autoPause.afterFailures')) {
    const afterFailures = numberOrText(text(fd, 'autoPause.afterFailures'));
    input.autoPause = afterFailures === undefined ? null : { afterFailures };
  }
  // Alert rules: one row per rule; a row without a channel is no rule.
  if (fd.has('alerts.count')) {
    const alerts: Array<Record<string, unknown>> = [];
    const count = Math.min(Number(text(fd, 'alerts.count')) || 0, 50);
    for (let i = 0; i < count; i++) {
      const channelId = text(fd, `alerts.${i}.channelId`);
      if (channelId === '') continue;
      const slow = numberOrText(text(fd, `alerts.${i}.slowAfterSeconds`));
      alerts.push({
        channelId,
        on: fd.getAll(`alerts.${i}.on`).filter((v): v is string => typeof v === 'string'),
        throttleSeconds: numberOrText(text(fd, `alerts.${i}.throttleSeconds`)) ?? 0,
        slowAfterSeconds: slow ?? null,
      });
    }
    input.alerts = alerts;
  }
  return { input, issues };
}

/** Creates (jobId null) or edits a job from the form. Returns issues to show; redirects on success. */
export async function saveJob(jobId: string | null, _prev: JobFormState, fd: FormData): Promise<JobFormState> {
  const session = await requireSession();
  // The role is checked on the server whatever the page showed: a viewer's forged post gets this notice.
  if (!hasRole(session, 'operator')) return { issues: [], message: 'Your role (viewer) may not change jobs.' };
  const actor = await requireActor('operator');
  const { input, issues: fieldIssues } = inputFrom(fd);
  let savedId: string;
  try {
    if (fieldIssues.length > 0) throw new ValidationError([]);
    if (jobId) {
      const current = await getJob(jobId);
      // Re-sending an unchanged schedule would restart its count from now: leave it out.
      if (sameSchedule(current.schedule, input.schedule)) delete input.schedule;
      savedId = (await updateJob(jobId, input, actor)).id;
    } else {
      savedId = (await createJob(input, actor)).id;
    }
  } catch (err) {
    if (err instanceof ValidationError) {
      const seen = new Set(fieldIssues.map((i) => i.path));
      return { issues: [...fieldIssues, ...err.issues.filter((i) => !seen.has(i.path))], message: null };
    }
    if (err instanceof ConflictError) return { issues: [{ path: 'name', message: err.message }], message: null };
    if (err instanceof NotFoundError) return { issues: [], message: 'This job no longer exists.' };
    if (err instanceof ForbiddenError) return { issues: [], message: err.message };
    logger('jobs').error({ err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'saving a job failed');
    return { issues: [], message: `Could not save the job: ${err instanceof Error ? err.message : String(err)}` };
  }
  revalidatePath('/jobs');
  redirect(`/jobs/${savedId}${jobId ? '?notice=saved' : '?notice=created'}`);
}

/** Runs a job command; an unknown id lands on the job page, which answers 404; a viewer gets the "forbidden" notice. */
async function command(id: string, run: (actor: Actor) => Promise<unknown>, notice: string | (() => string)): Promise<never> {
  const session = await requireSession();
  if (!hasRole(session, 'operator')) redirect(`/jobs/${encodeURIComponent(id)}?notice=forbidden`);
  try {
    await run(await requireActor('operator'));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  revalidatePath('/jobs');
  redirect(`/jobs/${encodeURIComponent(id)}?notice=${typeof notice === 'string' ? notice : notice()}`);
}

/** Pauses with the form's optional note; a note the schema refuses changes nothing and says why (?notice=bad-note). */
export async function pauseJobAction(id: string, fd?: FormData): Promise<void> {
  const note = fd?.get('note');
  let refused = false;
  await command(
    id,
    (actor) =>
      pauseJob(id, actor, typeof note === 'string' ? { note } : {}).catch((err: unknown) => {
        if (!(err instanceof ValidationError)) throw err;
        refused = true;
      }),
    () => (refused ? 'bad-note' : 'paused'),
  );
}

export async function resumeJobAction(id: string): Promise<void> {
  await command(id, (actor) => resumeJob(id, actor), 'resumed');
}

export async function runJobNowAction(id: string): Promise<void> {
  await command(id, (actor) => runJobNow(id, actor), 'queued');
}

export async function deleteJobAction(id: string): Promise<void> {
  const session = await requireSession();
  if (!hasRole(session, 'operator')) redirect(`/jobs/${encodeURIComponent(id)}?notice=forbidden`);
  try {
    await deleteJob(id, await requireActor('operator'));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  revalidatePath('/jobs');
  redirect('/jobs?notice=deleted');
}
