'use server';

import { revalidatePath } from 'next/cache';
import { hasRole } from '@/lib/auth/principal';
import { requireActor, requireSession } from '@/lib/auth/session';
import { AppError, ValidationError } from '@/lib/errors';
import { logger } from '@/lib/log';
import { revealSigningSecret, rotateSigningSecret } from '@/lib/services/signing-secrets';
import type { SigningSecretState } from './signing-secret-state';

/** An app error's message for the page (issues included); anything else is logged and reported without details. */
function failure(err: unknown): SigningSecretState {
  if (err instanceof ValidationError) return { error: err.issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ') };
  if (err instanceof AppError) return { error: err.message };
  // Never the error object itself in the log line's text: it cannot hold the secret, but say what failed only.
  logger('jobs').error({ err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'a signing secret action failed');
  return { error: 'Could not complete this: see the server log.' };
}

/** Shows the job's signing secret once, in the page that asked (audited). Operators and admins. */
export async function revealSigningSecretAction(jobId: string, _prev: SigningSecretState, _fd: FormData): Promise<SigningSecretState> {
  const session = await requireSession();
  if (!hasRole(session, 'operator')) return { error: 'Your role (viewer) may not see signing secrets.' };
  try {
    const answer = await revealSigningSecret(jobId, await requireActor('operator'));
    return { done: 'revealed', secret: answer.signingSecret };
  } catch (err) {
    return failure(err);
  }
}

/** Replaces the job's signing secret; the previous one signs on for the grace period chosen. Operators and admins. */
export async function rotateSigningSecretAction(jobId: string, _prev: SigningSecretState, fd: FormData): Promise<SigningSecretState> {
  const session = await requireSession();
  if (!hasRole(session, 'operator')) return { error: 'Your role (viewer) may not rotate signing secrets.' };
  const grace = fd.get('graceSeconds');
  // A number when it is one; otherwise the text itself, so the service's schema names the problem.
  const graceSeconds =
    typeof grace === 'string' && grace.trim() !== '' ? (Number.isFinite(Number(grace)) ? Number(grace) : grace) : undefined;
  try {
    const answer = await rotateSigningSecret(jobId, graceSeconds === undefined ? {} : { graceSeconds }, await requireActor('operator'));
    revalidatePath(`/jobs/${jobId}`);
    return { done: 'rotated', secret: answer.signingSecret };
  } catch (err) {
    return failure(err);
  }
}
