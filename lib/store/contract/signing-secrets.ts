// Signing secrets of jobs whose deliveries are signed (http): an aggregate of its own, beside the job, so the secret is
// on no Job and in no job list, live update or audit diff. The store only ever holds it encrypted (lib/secrets).

export interface SigningSecret {
  jobId: string;
  /** The current secret, encrypted (`enc:v1:...`). */
  secret: string;
  /** When the current secret was made: at the job's creation (or backfill), or by the last rotation. Database time. */
  createdAt: Date;
  /** The secret before the last rotation, encrypted; it still signs until previousUntil. */
  previousSecret: string | null;
  previousUntil: Date | null;
}

/**
 * Writes are compare-and-set, so instances racing to make or rotate a job's secret never overwrite each other: the
 * first write wins and the others read what it wrote. Deleted with its job.
 */
export interface SigningSecretStore {
  getSigningSecret(jobId: string): Promise<SigningSecret | null>;
  /**
   * Stores `secret` (encrypted) as the job's secret unless it already has one; returns what is stored afterwards (this
   * call's secret, or the one another caller stored first). Null when the job does not exist.
   */
  createSigningSecret(jobId: string, secret: string): Promise<SigningSecret | null>;
  /**
   * Replaces the secret by `next` only while it is still `expected` (as read), keeping `expected` as the previous secret
   * until `previousUntil`; createdAt becomes now. Null when the secret is no longer `expected` (another rotation won),
   * or the job has no secret.
   */
  rotateSigningSecret(jobId: string, expected: string, next: string, previousUntil: Date): Promise<SigningSecret | null>;
  /** Ids of jobs of this type without a signing secret, at most `limit`, in id order: the start-up backfill. */
  listJobsWithoutSigningSecret(type: string, limit: number): Promise<string[]>;
}
