/** Cron with an optional seconds field, in an IANA time zone. */
export interface CronSchedule {
  kind: 'cron';
  expression: string;
  timezone: string;
}

/** Every `seconds`, counted from the job's anchor (so it never drifts). */
export interface IntervalSchedule {
  kind: 'interval';
  seconds: number;
}

/** Once, at an ISO-8601 date-time. */
export interface OnceSchedule {
  kind: 'once';
  at: string;
}

export type Schedule = CronSchedule | IntervalSchedule | OnceSchedule;
