import 'server-only';
import { randomBytes } from 'node:crypto';
import { SIGNING_SECRET_PREFIX } from '../domain';
import { ConflictError } from '../errors';
import { getJobType, jobTypes } from '../jobs/registry';
import type { SigningSecret, Store } from '../store/types';
import { decryptSecret, encryptSecret } from './index';

// Delivery signing secrets: made, read and rotated here, over the store's compare-and-set writes, by the services (the
// API, start-up) and the scheduler (a delivery that finds none). Encrypted before the store, decrypted after it.

type SigningSecrets = Pick<Store, 'now' | 'getSigningSecret' | 'createSigningSecret' | 'rotateSigningSecret'>;

/** A signing secret in clear: `whsec_` + base64 of 32 random bytes (the specification asks for 24 to 64). */
export function newSigningSecret(): string {
  return `${SIGNING_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** Whether jobs of this type have a signing secret (their handler signs what it sends). */
export function signsDeliveries(type: string): boolean {
  return getJobType(type)?.signsDeliveries === true;
}

/** The job types whose jobs have one: the start-up backfill walks these. */
export function signingJobTypes(): string[] {
  return jobTypes.filter((t) => t.signsDeliveries).map((t) => t.name);
}

/** A job's signing secrets in clear. Never leaves the services layer except in a create, reveal or rotate answer. */
export interface RevealedSigningSecret {
  secret: string;
  createdAt: Date;
  previousSecret: string | null;
  previousUntil: Date | null;
}

function reveal(stored: SigningSecret): RevealedSigningSecret {
  return {
    secret: decryptSecret(stored.secret),
    createdAt: stored.createdAt,
    previousSecret: stored.previousSecret === null ? null : decryptSecret(stored.previousSecret),
    previousUntil: stored.previousUntil,
  };
}

/** The stored (encrypted) secret, made now when the job has none; null when the job does not exist. */
async function ensureStored(store: SigningSecrets, jobId: string): Promise<SigningSecret | null> {
  return (await store.getSigningSecret(jobId)) ?? (await store.createSigningSecret(jobId, encryptSecret(newSigningSecret())));
}

/**
 * The job's signing secret, made now if it has none (a job from before signing secrets, one switched to http, a crash
 * between a job's creation and its secret's). Concurrent callers agree: the first secret stored is everyone's.
 */
export async function ensureSigningSecret(store: SigningSecrets, jobId: string): Promise<RevealedSigningSecret | null> {
  const stored = await ensureStored(store, jobId);
  return stored ? reveal(stored) : null;
}

/** The secrets that sign a delivery at `now`: the current one first, then the previous one while its grace period lasts. */
export function activeSigningSecrets(secret: RevealedSigningSecret, now: Date): string[] {
  const previousActive = secret.previousSecret !== null && secret.previousUntil !== null && secret.previousUntil > now;
  return previousActive ? [secret.secret, secret.previousSecret!] : [secret.secret];
}

/**
 * Replaces the job's secret with a new one; the old one keeps signing for `graceSeconds` (database time). Null when the
 * job does not exist. A rotation that loses a race to another one is a conflict: the secret it read is gone already.
 */
export async function rotateSigningSecret(
  store: SigningSecrets,
  jobId: string,
  graceSeconds: number,
): Promise<{ before: SigningSecret; after: RevealedSigningSecret } | null> {
  const current = await ensureStored(store, jobId);
  if (!current) return null;
  const previousUntil = new Date((await store.now()).getTime() + graceSeconds * 1000);
  const rotated = await store.rotateSigningSecret(jobId, current.secret, encryptSecret(newSigningSecret()), previousUntil);
  if (!rotated) throw new ConflictError('the signing secret was rotated by someone else meanwhile: reveal it, or rotate again');
  return { before: current, after: reveal(rotated) };
}
