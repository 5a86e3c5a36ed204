/** What a settings action reports back to its form. */
export interface SettingsState {
  error?: string;
  ok?: string;
  /** A new API token's secret, shown once. */
  secret?: string;
  /** What the secret is, when it is not an API token (a channel's signing secret). */
  secretNote?: string;
}
