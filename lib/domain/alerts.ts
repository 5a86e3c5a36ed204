/** What an alert rule can listen to. Run events name a job's run; `instance-lost` is a cluster event (no job). */
export const ALERT_EVENTS = [
  /** The final attempt of a run failed or timed out (not each retry). */
  'failure',
  /** The first succeeded run of a job after a failure. */
  'recovery',
  /** An occurrence recorded `missed`, or a run given up `abandoned`. */
  'missed',
  /** A run still running `slowAfterSeconds` after it started. */
  'slow',
  /** A run cancelled by an operator or by the `replace` overlap policy. */
  'cancelled',
  /** An instance stopped sending heartbeats without a graceful stop. */
  'instance-lost',
] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Where alerts go. */
export const CHANNEL_TYPES = ['webhook', 'slack', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** One rule: which events of a job (or of every job / a tag's jobs, for defaults) go to which channel. */
export interface AlertRule {
  channelId: string;
  on: AlertEvent[];
  /** At most one alert per (rule, job) in this many seconds; later ones are counted and reported with the next. 0 = every event. */
  throttleSeconds: number;
  /** For `slow`: how long a run may run before it is slow. Null when the rule does not listen to `slow`. */
  slowAfterSeconds: number | null;
}

/**
 * What a channel sends: the same for every delivery attempt of one alert. `id` is stable (a webhook receiver
 * deduplicates on it: it is the Standard Webhooks `webhook-id`).
 */
export interface AlertMessage {
  id: string;
  /** 'test' for the "send test alert" action. */
  event: AlertEvent | 'test';
  /** When the event happened (database time). */
  at: Date;
  /** One line for a subject or a chat message, e.g. 'nightly-backup failed (attempt 3 of 3)'. */
  title: string;
  /** More lines: the error, the occurrence, the instance; may be empty. */
  text: string;
  job: { id: string; name: string } | null;
  run: { id: string; scheduledFor: Date; status: string; attempt: number } | null;
  instanceId: string | null;
  /** Alerts of this rule and job held back by its throttle since the last one sent. */
  suppressedCount: number;
  /** A link to the run or job page when the dashboard's public URL is known (CRONPLANE_URL), else null. */
  url: string | null;
}
