/** What the signing-secret actions report back to the job page's controls. */
export interface SigningSecretState {
  error?: string;
  /** What was just done. */
  done?: 'revealed' | 'rotated';
  /** The secret in clear: in this state only (the page that asked for it), never in a URL, a cookie or a log. */
  secret?: string;
}

/** The grace periods the rotate form offers, in seconds (the API takes any from 0 to 7 days). */
export const GRACE_CHOICES: ReadonlyArray<{ value: string; label: string }> = [
  { value: '86400', label: '1 day (default)' },
  { value: '3600', label: '1 hour' },
  { value: '604800', label: '7 days' },
  { value: '0', label: 'none: the current secret stops signing now' },
];
