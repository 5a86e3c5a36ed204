import 'server-only';
import type { AlertEvent, AlertRule } from '../../domain';
import { decodeTimeCursor, isUuid, pageOf } from '../shared/cursor';
import type {
  Alert,
  AlertDefaultRule,
  AlertingJob,
  AlertListQuery,
  AlertOutcome,
  AlertStatus,
  AlertStore,
  AuditActorType,
  NewAlert,
  Page,
  Run,
  ThrottleGrant,
} from '../types';
import type { PgDatabase } from './database';
import { RUN_COLUMNS, toDate, toRun, type RunRow } from './rows';

// Alerts on PostgreSQL: the outbox table `alerts` (unique (event_key, channel_id)), claimed with FOR UPDATE SKIP LOCKED
// and a lease; alert_throttles and alert_channel_days are compare-and-set counters; alert_settings holds the default
// rules and the scan's watermark in one row.

const SETTINGS_KEY = 'global';

const ALERT_COLUMNS = `a.id, a.event_key AS "eventKey", a.event, a.rule_key AS "ruleKey", a.channel_id AS "channelId",
  a.throttle_seconds AS "throttleSeconds", a.job_id AS "jobId", a.job_name AS "jobName", a.run_id AS "runId",
  a.run_scheduled_for AS "runScheduledFor", a.run_status AS "runStatus", a.run_attempt AS "runAttempt",
  a.instance_id AS "instanceId", a.at, a.title, a.text, a.status, a.attempts, a.last_error AS "lastError",
  a.next_attempt_at AS "nextAttemptAt", a.lease_owner AS "leaseOwner", a.lease_expires_at AS "leaseExpiresAt",
  a.admitted, a.suppressed_count AS "suppressedCount", a.created_at AS "createdAt", a.sent_at AS "sentAt"`;

type AlertRow = Omit<Alert, 'event' | 'status'> & { event: string; status: string };

function toAlert(row: AlertRow): Alert {
  return {
    ...row,
    event: row.event as AlertEvent,
    status: row.status as AlertStatus,
    runScheduledFor: toDate(row.runScheduledFor),
    at: toDate(row.at)!,
    nextAttemptAt: toDate(row.nextAttemptAt)!,
    leaseExpiresAt: toDate(row.leaseExpiresAt),
    createdAt: toDate(row.createdAt)!,
    sentAt: toDate(row.sentAt),
  };
}

function rulesOf(value: unknown): AlertDefaultRule[] {
  return Array.isArray(value) ? (value as AlertDefaultRule[]) : [];
}

export function postgresAlerts(db: PgDatabase): AlertStore {
  return {
    async insertAlerts(alerts: NewAlert[]): Promise<number> {
      if (alerts.length === 0) return 0;
      // One statement for the batch; the unique (event_key, channel_id) makes concurrent detectors write one row.
      const rows = await db.pool.query(
        `INSERT INTO alerts (event_key, event, rule_key, channel_id, throttle_seconds, job_id, job_name, run_id,
           run_scheduled_for, run_status, run_attempt, instance_id, at, title, text)
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(event_key text, event text, rule_key text, channel_id text,
           throttle_seconds int, job_id uuid, job_name text, run_id uuid, run_scheduled_for timestamptz, run_status text,
           run_attempt int, instance_id text, at timestamptz, title text, text text)
         ON CONFLICT (event_key, channel_id) DO NOTHING`,
        [
          JSON.stringify(
            alerts.map((a) => ({
              event_key: a.eventKey,
              event: a.event,
              rule_key: a.ruleKey,
              channel_id: a.channelId,
              throttle_seconds: a.throttleSeconds,
              job_id: a.jobId,
              job_name: a.jobName,
              run_id: a.runId,
              run_scheduled_for: a.runScheduledFor,
              run_status: a.runStatus,
              run_attempt: a.runAttempt,
              instance_id: a.instanceId,
              at: a.at,
              title: a.title,
              text: a.text,
            })),
          ),
        ],
      );
      return rows.rowCount ?? 0;
    },

    async claimAlert(owner: string, leaseMs: number): Promise<Alert | null> {
      const rows = await db.sql<AlertRow>(
        `UPDATE alerts a SET lease_owner = $1, lease_expires_at = clock_timestamp() + $2::float8 * interval '1 millisecond'
         WHERE a.id = (
           SELECT id FROM alerts
           WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
             AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
           ORDER BY next_attempt_at, id
           LIMIT 1
           FOR UPDATE SKIP LOCKED)
         AND a.status = 'pending' AND (a.lease_expires_at IS NULL OR a.lease_expires_at <= clock_timestamp())
         RETURNING ${ALERT_COLUMNS}`,
        [owner, leaseMs],
      );
      return rows[0] ? toAlert(rows[0]) : null;
    },

    async admitAlert(id: string, owner: string, suppressedCount: number): Promise<boolean> {
      if (!isUuid(id)) return false;
      const { rowCount } = await db.pool.query(
        `UPDATE alerts SET admitted = true, suppressed_count = $3
         WHERE id = $1 AND lease_owner = $2 AND status = 'pending' AND lease_expires_at > clock_timestamp()`,
        [id, owner, suppressedCount],
      );
      return rowCount === 1;
    },

    async finishAlert(id: string, owner: string, outcome: AlertOutcome): Promise<boolean> {
      if (!isUuid(id)) return false;
      const guard = `WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`;
      let result;
      if (outcome.status === 'sent') {
        result = await db.pool.query(
          `UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent_at = clock_timestamp(), last_error = NULL,
             lease_owner = NULL, lease_expires_at = NULL ${guard}`,
          [id, owner],
        );
      } else if (outcome.status === 'suppressed') {
        result = await db.pool.query(
          `UPDATE alerts SET status = 'suppressed', last_error = $3, lease_owner = NULL, lease_expires_at = NULL ${guard}`,
          [id, owner, outcome.reason],
        );
      } else {
        result = await db.pool.query(
          `UPDATE alerts SET status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
             attempts = attempts + 1, last_error = $3, next_attempt_at = COALESCE($4::timestamptz, next_attempt_at),
             lease_owner = NULL, lease_expires_at = NULL ${guard}`,
          [id, owner, outcome.error.slice(0, 2_000), outcome.retryAt],
        );
      }
      return result.rowCount === 1;
    },

    async takeAlertThrottle(ruleKey: string, jobKey: string, windowSeconds: number, alertId: string): Promise<ThrottleGrant> {
      // One transaction on the (rule, job) row, locked: concurrent takes on any instance queue on it, so each sees the
      // window as the previous take left it (compare-and-set by row lock).
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO alert_throttles (rule_key, job_key, window_ends, holder, suppressed)
           VALUES ($1, $2, '-infinity', '', 0) ON CONFLICT (rule_key, job_key) DO NOTHING`,
          [ruleKey, jobKey],
        );
        const { rows } = await client.query<{ open: boolean; holder: string; suppressed: number }>(
          `SELECT window_ends <= clock_timestamp() AS open, holder, suppressed FROM alert_throttles
           WHERE rule_key = $1 AND job_key = $2 FOR UPDATE`,
          [ruleKey, jobKey],
        );
        const row = rows[0]!;
        let grant: ThrottleGrant;
        if (row.holder === alertId) {
          // This alert's own window (its first admission was cut short): granted again, nothing counted twice.
          grant = { granted: true, suppressed: 0 };
        } else if (row.open) {
          await client.query(
            `UPDATE alert_throttles SET window_ends = clock_timestamp() + $3::float8 * interval '1 second', holder = $4, suppressed = 0
             WHERE rule_key = $1 AND job_key = $2`,
            [ruleKey, jobKey, windowSeconds, alertId],
          );
          grant = { granted: true, suppressed: Number(row.suppressed) };
        } else {
          await client.query(`UPDATE alert_throttles SET suppressed = suppressed + 1 WHERE rule_key = $1 AND job_key = $2`, [
            ruleKey,
            jobKey,
          ]);
          grant = { granted: false };
        }
        await client.query('COMMIT');
        return grant;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },

    async takeChannelDay(channelId: string, cap: number): Promise<boolean> {
      const rows = await db.sql<{ count: number }>(
        `INSERT INTO alert_channel_days AS d (channel_id, day, count)
         SELECT $1, (clock_timestamp() AT TIME ZONE 'UTC')::date, 1 WHERE $2::int > 0
         ON CONFLICT (channel_id, day) DO UPDATE SET count = d.count + 1 WHERE d.count < $2::int
         RETURNING d.count`,
        [channelId, cap],
      );
      return rows.length === 1;
    },

    async getAlert(id: string): Promise<Alert | null> {
      if (!isUuid(id)) return null;
      const rows = await db.sql<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.id = $1`, [id]);
      return rows[0] ? toAlert(rows[0]) : null;
    },

    async listAlerts(query: AlertListQuery): Promise<Page<Alert>> {
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (clause: (n: string) => string, value: unknown): void => {
        values.push(value);
        where.push(clause(`$${values.length}`));
      };
      if (query.status) add((n) => `a.status = ${n}`, query.status);
      if (query.event) add((n) => `a.event = ${n}`, query.event);
      if (query.jobId) {
        if (!isUuid(query.jobId)) return { items: [], nextCursor: null };
        add((n) => `a.job_id = ${n}::uuid`, query.jobId);
      }
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        values.push(at, id);
        where.push(`(a.created_at, a.id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
      }
      values.push(query.limit + 1);
      const rows = await db.pool.query<AlertRow>(
        `SELECT ${ALERT_COLUMNS} FROM alerts a ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY a.created_at DESC, a.id DESC LIMIT $${values.length}`,
        values,
      );
      return pageOf(rows.rows.map(toAlert), query.limit, (a) => [a.createdAt.toISOString(), a.id]);
    },

    async getAlertDefaults(): Promise<AlertDefaultRule[]> {
      const rows = await db.sql<{ rules: unknown }>(`SELECT rules FROM alert_settings WHERE key = $1`, [SETTINGS_KEY]);
      return rulesOf(rows[0]?.rules);
    },

    async setAlertDefaults(rules: AlertDefaultRule[]): Promise<AlertDefaultRule[]> {
      const rows = await db.sql<{ rules: unknown }>(
        `INSERT INTO alert_settings (key, rules) VALUES ($1, $2::jsonb)
         ON CONFLICT (key) DO UPDATE SET rules = EXCLUDED.rules RETURNING rules`,
        [SETTINGS_KEY, JSON.stringify(rules)],
      );
      return rulesOf(rows[0]?.rules);
    },

    async getAlertWatermark(): Promise<Date | null> {
      const rows = await db.sql<{ watermark: Date | null }>(`SELECT watermark FROM alert_settings WHERE key = $1`, [SETTINGS_KEY]);
      return toDate(rows[0]?.watermark ?? null);
    },

    async advanceAlertWatermark(to: Date): Promise<void> {
      await db.pool.query(
        `INSERT INTO alert_settings AS s (key, watermark) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET watermark = GREATEST(COALESCE(s.watermark, EXCLUDED.watermark), EXCLUDED.watermark)`,
        [SETTINGS_KEY, to],
      );
    },

    async listAlertingJobs(filter: { tags: string[]; all: boolean }): Promise<AlertingJob[]> {
      const rows = await db.sql<{
        id: string;
        name: string;
        tags: string[];
        alerts: unknown;
        paused_at: Date | string | null;
        paused_by_type: string | null;
        paused_by_id: string | null;
        paused_by_name: string | null;
        pause_note: string | null;
      }>(
        `SELECT j.id, j.name, j.tags, j.alerts, j.paused_at, j.paused_by_type, j.paused_by_id, j.paused_by_name, j.pause_note
         FROM jobs j
         WHERE $1::boolean OR j.alerts <> '[]'::jsonb OR j.tags && $2::text[]`,
        [filter.all, filter.tags],
      );
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        tags: r.tags ?? [],
        alerts: (r.alerts ?? []) as AlertRule[],
        pause:
          r.paused_at === null
            ? null
            : {
                at: toDate(r.paused_at)!,
                by: { type: (r.paused_by_type ?? 'system') as AuditActorType, id: r.paused_by_id, name: r.paused_by_name ?? '' },
                note: r.pause_note,
              },
      }));
    },

    async listFinishedRunsOf(jobIds: string[], from: Date, to: Date, limit: number): Promise<Run[]> {
      if (jobIds.length === 0) return [];
      const rows = await db.pool.query<RunRow>(
        `SELECT ${RUN_COLUMNS.text} FROM runs r
         WHERE r.job_id = ANY($1::uuid[]) AND r.finished_at >= $2 AND r.finished_at < $3
         ORDER BY r.finished_at, r.id LIMIT $4`,
        [jobIds, from, to, limit],
      );
      return rows.rows.map(toRun);
    },

    async listRunningRunsOf(jobIds: string[], startedBefore: Date, limit: number): Promise<Run[]> {
      if (jobIds.length === 0) return [];
      const rows = await db.pool.query<RunRow>(
        `SELECT ${RUN_COLUMNS.text} FROM runs r
         WHERE r.job_id = ANY($1::uuid[]) AND r.status = 'running' AND r.started_at <= $2
         ORDER BY r.started_at, r.id LIMIT $3`,
        [jobIds, startedBefore, limit],
      );
      return rows.rows.map(toRun);
    },

    async previousOutcome(jobId: string, scheduledFor: Date, statuses: string[]): Promise<Run | null> {
      if (!isUuid(jobId)) return null;
      const rows = await db.pool.query<RunRow>(
        `SELECT ${RUN_COLUMNS.text} FROM runs r
         WHERE r.job_id = $1 AND r.scheduled_for < $2 AND r.status = ANY($3::text[])
         ORDER BY r.scheduled_for DESC, r.id DESC LIMIT 1`,
        [jobId, scheduledFor, statuses],
      );
      return rows.rows[0] ? toRun(rows.rows[0]) : null;
    },
  };
}
