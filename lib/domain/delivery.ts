/**
 * An http delivery's identity (Standard Webhooks 1.0.0, and the IETF draft's Idempotency-Key): one id per occurrence,
 * derived from (job, scheduledFor), the key the runs table is unique on. So every retry, takeover and resumed zombie of
 * an occurrence sends the same id, and no two occurrences share one (a "run now" has its own scheduledFor).
 */
export function webhookId(jobId: string, scheduledFor: Date): string {
  return `cp_${jobId.replace(/-/g, '').toLowerCase()}_${scheduledFor.getTime()}`;
}

/** The Standard Webhooks headers, as the specification spells them (lower case). */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** Same value as webhook-id, for receivers that deduplicate by the IETF httpapi idempotency-key header. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

const SIGNED_HEADER_NAMES = new Set<string>([...Object.values(WEBHOOK_HEADERS), IDEMPOTENCY_KEY_HEADER.toLowerCase()]);

/** Set by Cronplane on every delivery, so no payload may set (or forge) them: Cronplane-* and the four above. */
export function isReservedDeliveryHeader(name: string): boolean {
  return /^cronplane-/i.test(name) || SIGNED_HEADER_NAMES.has(name.toLowerCase());
}

/** A signing secret in the specification's format: this prefix, then base64 of the key's bytes. */
export const SIGNING_SECRET_PREFIX = 'whsec_';

/** After a rotation the previous secret keeps signing this long unless told otherwise (one day), and at most a week. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
export const MAX_ROTATION_GRACE_SECONDS = 604_800;
