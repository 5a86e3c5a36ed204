'use server';

import { revalidatePath } from 'next/cache';
import { hasRole } from '@/lib/auth/principal';
import { requireActor, requireSession } from '@/lib/auth/session';
import { ConflictError, NotFoundError, ValidationError } from '@/lib/errors';
import { cancelRun } from '@/lib/services/runs';
import type { CancelRunState } from './cancel-state';

/** The Cancel button (run page, job page): cancels the run with the form's optional reason and says what happened. */
export async function cancelRunAction(runId: string, _prev: CancelRunState, fd: FormData): Promise<CancelRunState> {
  const session = await requireSession();
  // The role is checked on the server whatever the page showed: a viewer's forged post gets this answer.
  if (!hasRole(session, 'operator')) return { error: 'Your role may not cancel runs: nothing was changed.' };
  const reason = fd.get('reason');
  try {
    const { outcome } = await cancelRun(runId, await requireActor('operator'), typeof reason === 'string' ? { reason } : {});
    revalidatePath('/runs');
    revalidatePath('/jobs');
    return { done: outcome };
  } catch (err) {
    if (err instanceof ValidationError) return { error: 'The reason must be one line of at most 500 characters: nothing was changed.' };
    if (err instanceof ConflictError || err instanceof NotFoundError) return { error: err.message };
    throw err;
  }
}
