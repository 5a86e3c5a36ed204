'use server';

import { revalidatePath } from 'next/cache';
import { hasRole } from '@/lib/auth/principal';
import { requireActor, requireSession } from '@/lib/auth/session';
import { ValidationError } from '@/lib/errors';
import { BULK_ACTIONS, BULK_LIMIT, bulkJobs, type BulkAction } from '@/lib/services/bulk';
import type { BulkState } from './bulk-state';

const PAST: Record<BulkAction, string> = { pause: 'paused', resume: 'resumed', delete: 'deleted' };

/** Pause, resume or delete the jobs ticked in the jobs list; one service call per job, failures listed by name. */
export async function bulkJobsAction(_prev: BulkState, fd: FormData): Promise<BulkState> {
  // Checked on the server: the form is hidden from viewers, but its action id is public.
  if (!hasRole(await requireSession(), 'operator')) return { message: 'Your role (viewer) may not change jobs.', ok: false, failed: [] };
  const actor = await requireActor('operator');
  const action = fd.get('action');
  if (typeof action !== 'string' || !(BULK_ACTIONS as readonly string[]).includes(action)) {
    return { message: 'Unknown bulk action.', ok: false, failed: [] };
  }
  const ids = fd.getAll('ids').filter((v): v is string => typeof v === 'string');
  if (ids.length === 0) return { message: 'Select at least one job first.', ok: false, failed: [] };
  if (ids.length > BULK_LIMIT) return { message: `Select at most ${BULK_LIMIT} jobs at once.`, ok: false, failed: [] };
  // Names for the failure list come from the form: the job may be gone by now, which is often why it failed.
  const names = new Map<string, string>();
  for (const id of ids) {
    const name = fd.get(`name:${id}`);
    names.set(id, typeof name === 'string' ? name : id);
  }
  // The pause note box: an empty one is no note.
  const note = fd.get('note');
  let result;
  try {
    result = await bulkJobs(action as BulkAction, ids, actor, typeof note === 'string' && note.trim() !== '' ? { note } : {});
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { message: `Nothing was changed: ${err.issues.map((i) => i.message).join('; ')}.`, ok: false, failed: [] };
  }
  revalidatePath('/jobs');
  const done = `${result.succeeded.length} job${result.succeeded.length === 1 ? '' : 's'} ${PAST[result.action]}`;
  if (result.failed.length === 0) return { message: `${done}.`, ok: true, failed: [] };
  return {
    message: `${done}; ${result.failed.length} failed.`,
    ok: false,
    failed: result.failed.map((f) => ({ id: f.id, name: names.get(f.id) ?? f.id, error: f.error })),
  };
}
