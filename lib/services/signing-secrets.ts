import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { AppError, NotFoundError } from '../errors';
import { errorMessage, logger } from '../log';
import { ensureSigningSecret, rotateSigningSecret as rotate, signingJobTypes, signsDeliveries } from '../secrets/signing';
import { getStore } from '../store';
import type { Job } from '../store/types';
import { SigningSecretRotateSchema } from '../validation/signing-secret';
import { recordAudit } from './audit';
import { getJob, parseInput } from './jobs';

// A job's delivery signing secret: revealed and rotated by operators (both audited, never with the secret in the entry),
// its dates shown on the job page, and made at start-up for jobs from before signing secrets.

/** What reveal and rotate answer: the secret in clear, this once. */
export interface SigningSecretAnswer {
  signingSecret: string;
  createdAt: Date;
  /** Until when the previous secret still signs beside this one; null when it no longer does. */
  previousValidUntil: Date | null;
}

/** What anyone who may see the job sees: when the secret was made, and how long the previous one still signs. */
export interface SigningSecretInfo {
  /** Null while the job has none yet (made at its first delivery or reveal, or by the start-up backfill). */
  createdAt: Date | null;
  previousValidUntil: Date | null;
}

const stillValid = (until: Date | null, now: Date): Date | null => (until && until > now ? until : null);

/**
 * The job, or 404; 409 when its type signs nothing: the request is well formed, the job's state (its type) refuses it
 * (a job changed to http has a secret from then on).
 */
async function signingJob(id: string): Promise<Job> {
  const job = await getJob(id);
  if (!signsDeliveries(job.type)) {
    throw new AppError(`only http jobs have a signing secret; this job's type is ${job.type} (it sends nothing to sign)`, 409);
  }
  return job;
}

const target = (job: Job) => ({ type: 'job', id: job.id, name: job.name });

/** The job's secret in clear (made now if it has none). Operators and admins only; audited. */
export async function revealSigningSecret(id: string, actor: Actor): Promise<SigningSecretAnswer> {
  requireRole(actor.principal, 'operator');
  const job = await signingJob(id);
  const store = await getStore();
  const secret = await ensureSigningSecret(store, job.id);
  if (!secret) throw new NotFoundError('job');
  const now = await store.now();
  await recordAudit(actor, 'job.signing-secret.reveal', target(job));
  return { signingSecret: secret.secret, createdAt: secret.createdAt, previousValidUntil: stillValid(secret.previousUntil, now) };
}

/**
 * Replaces the job's secret; the previous one keeps signing beside it for `graceSeconds` (default a day), so receivers
 * can switch without a gap. Operators and admins only; audited with the dates, never the secrets.
 */
export async function rotateSigningSecret(id: string, input: unknown, actor: Actor): Promise<SigningSecretAnswer> {
  requireRole(actor.principal, 'operator');
  const job = await signingJob(id);
  const { graceSeconds } = parseInput(SigningSecretRotateSchema, input);
  const store = await getStore();
  const rotated = await rotate(store, job.id, graceSeconds);
  if (!rotated) throw new NotFoundError('job');
  const now = await store.now();
  const { before, after } = rotated;
  const validUntil = stillValid(after.previousUntil, now);
  await recordAudit(actor, 'job.signing-secret.rotate', target(job), {
    signingSecretCreatedAt: { before: before.createdAt.toISOString(), after: after.createdAt.toISOString() },
    previousSigningSecretValidUntil: { before: null, after: validUntil?.toISOString() ?? null },
  });
  return { signingSecret: after.secret, createdAt: after.createdAt, previousValidUntil: validUntil };
}

/** For the job page (any role: no secret in it). Null for a job that signs nothing. */
export async function getSigningSecretInfo(job: Pick<Job, 'id' | 'type'>): Promise<SigningSecretInfo | null> {
  if (!signsDeliveries(job.type)) return null;
  const store = await getStore();
  const [stored, now] = await Promise.all([store.getSigningSecret(job.id), store.now()]);
  return { createdAt: stored?.createdAt ?? null, previousValidUntil: stillValid(stored?.previousUntil ?? null, now) };
}

/**
 * Gives every job that should have a signing secret and has none (jobs from before them) its secret. Every instance
 * runs it at start-up; racing instances agree on one secret per job (the store's create is first-wins). SQL cannot
 * do it in the migration: the secrets are encrypted with SECRETS_KEY, which only the app holds. Returns how many.
 */
export async function backfillSigningSecrets(batch = 200): Promise<number> {
  const store = await getStore();
  let made = 0;
  for (const type of signingJobTypes()) {
    for (;;) {
      const ids = await store.listJobsWithoutSigningSecret(type, batch);
      if (ids.length === 0) break;
      let progress = 0;
      for (const id of ids) {
        try {
          if (await ensureSigningSecret(store, id)) progress += 1;
        } catch (err) {
          logger('signing').warn({ jobId: id, err: errorMessage(err) }, 'could not make the signing secret of a job');
        }
      }
      made += progress;
      // Nothing made from a whole page (every one failed): stop rather than loop; the lazy path covers them later.
      if (progress === 0) break;
    }
  }
  return made;
}
