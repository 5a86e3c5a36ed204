import 'server-only';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { logger } from '../../log';
import { Prisma } from '../../generated/prisma/client';
import { decodeTimeCursor, isUuid, pageOf } from '../shared/cursor';
import { activeFilters, RUN_FILTERS, RUN_PATCH_FIELDS } from '../shared/fields';
import { bucketMillis } from '../shared/stats';
import { containsPattern } from '../shared/text';
import {
  RUN_STATUSES,
  type InstanceRunCount,
  type NewRun,
  type Page,
  type Run,
  type CancelResult,
  type RunAttempt,
  type RunCancel,
  type RunClaim,
  type RunListQuery,
  type RunOwner,
  type RunPatch,
  type RunRetry,
  type RunStatsBucket,
  type RunStatsQuery,
  type RunStatus,
  type RunStore,
  type StopWatching,
} from '../types';
import type { PgDatabase } from './database';
import { RUN_COLUMNS, RUN_FIELD_COLUMNS, sqlConditions, toDate, toRun, type RunRow } from './rows';

// Run records on PostgreSQL. The scheduler's writes (insertRun, updateRun, retryRun, claimRetry) and countActiveRuns
// are named statements on the pool (its hot path); the dashboard's reads, lists and stats go through Prisma.

/** Jobs whose current name, or a name one of their runs was recorded under, contains `text` (both small tables). */
async function jobIdsMatching(db: PgDatabase, text: string): Promise<string[]> {
  const pattern = containsPattern(text);
  const rows = await db.prisma.$queryRaw<Array<{ id: string }>>`
    SELECT j.id FROM jobs j WHERE j.name ILIKE ${pattern}
    UNION
    SELECT n.job_id FROM run_job_names n WHERE n.job_name ILIKE ${pattern}`;
  return rows.map((r) => r.id);
}

/** The NOTIFY channel of cancel requests; the payload is the run id. */
const CANCEL_CHANNEL = 'cronplane_run_cancel';
const RECONNECT_MS = 500;

/**
 * LISTEN on a connection of its own (Agenda's LISTEN client is Agenda's, and the pool's connections are shared): it is
 * re-opened after an error or a database restart, every RECONNECT_MS until it is back. Notifications sent while it was
 * away are lost; the lease renewal carries those requests.
 */
async function listenForCancels(url: string, onRequest: (runId: string) => void): Promise<StopWatching> {
  const log = logger('store');
  let stopped = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  const connect = async (): Promise<void> => {
    timer = null;
    if (stopped) return;
    const next = new pg.Client({ connectionString: url });
    const retry = (): void => {
      if (client === next) client = null;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      if (!stopped && timer === null) timer = setTimeout(() => void connect(), RECONNECT_MS);
    };
    next.on('error', (err) => {
      log.warn({ err: err.message }, 'cancel listener connection lost; reconnecting');
      retry();
    });
    next.on('end', retry);
    next.on('notification', (msg) => {
      if (msg.channel === CANCEL_CHANNEL && msg.payload) onRequest(msg.payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CANCEL_CHANNEL}`);
      client = next;
      if (stopped) await next.end();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cancel listener could not connect; retrying');
      retry();
    }
  };
  await connect();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const open = client;
    client = null;
    if (open) {
      open.removeAllListeners('end');
      await open.end().catch(() => undefined);
    }
  };
}

export function postgresRuns(db: PgDatabase): RunStore {
  return {
    async insertRun(run: NewRun): Promise<Run | null> {
      // ON CONFLICT DO NOTHING: a taken occurrence is an answer, not an error. The same statement records the
      // (job, name) pair for listRuns' jobSearch, so the two never disagree.
      const rows = await db.sql<RunRow>(
        `WITH ins AS (
          INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id,
            attempt, error, output, lease_expires_at, range_end, range_count)
          VALUES ($1::uuid, $2::uuid, $3, $4::timestamptz, $5::timestamptz, $6::timestamptz, $7, $8, $9, $10::int, $11, $12,
            $13::timestamptz, $14::timestamptz, $15::int)
          ON CONFLICT (job_id, scheduled_for) DO NOTHING
          RETURNING *
        ), names AS (
          INSERT INTO run_job_names (job_id, job_name) SELECT job_id, job_name FROM ins ON CONFLICT DO NOTHING
        )
        SELECT ${RUN_COLUMNS.text} FROM ins r`,
        [
          randomUUID(),
          run.jobId,
          run.jobName,
          run.scheduledFor,
          run.startedAt,
          run.finishedAt,
          run.status,
          run.trigger,
          run.instanceId,
          run.attempt,
          run.error,
          run.output,
          run.leaseExpiresAt,
          run.rangeEnd ?? null,
          run.rangeCount ?? null,
        ],
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async updateRun(id: string, patch: RunPatch, owner?: RunOwner): Promise<Run | null> {
      if (!isUuid(id)) return null;
      const values: unknown[] = [id];
      const sets: string[] = [];
      for (const field of Object.keys(RUN_PATCH_FIELDS) as Array<keyof RunPatch>) {
        if (patch[field] === undefined) continue;
        values.push(patch[field]);
        sets.push(`${RUN_FIELD_COLUMNS[field]} = $${values.length}`);
      }
      let where = 'r.id = $1';
      if (owner) {
        values.push(owner.attempt, owner.instanceId);
        where += ` AND r.status = 'running' AND r.attempt = $${values.length - 1} AND r.instance_id = $${values.length}`;
      }
      const rows = await db.sql<RunRow>(
        sets.length === 0
          ? `SELECT ${RUN_COLUMNS.text} FROM runs r WHERE ${where}`
          : `UPDATE runs AS r SET ${sets.join(', ')} WHERE ${where} RETURNING ${RUN_COLUMNS.text}`,
        values,
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async retryRun(id: string, owner: RunOwner, ended: RunRetry): Promise<Run | null> {
      if (!isUuid(id)) return null;
      // Same shape as takeOverRun: FOR UPDATE serialises against a takeover, so the owner check holds for the write.
      const rows = await db.sql<RunRow>(
        `WITH old AS (
           SELECT r.* FROM runs r
           WHERE r.id = $1::uuid AND r.status = 'running' AND r.attempt = $2::int
             AND r.instance_id IS NOT DISTINCT FROM $3 AND r.cancel_at IS NULL
           FOR UPDATE
         ), upd AS (
           UPDATE runs r SET status = 'retrying', attempt = old.attempt + 1, instance_id = NULL, started_at = NULL,
             finished_at = NULL, lease_expires_at = NULL, error = $4, output = NULL
           FROM old WHERE r.id = old.id
           RETURNING r.*
         ), hist AS (
           INSERT INTO run_attempts (run_id, attempt, instance_id, started_at, finished_at, status, error, output)
           SELECT old.id, old.attempt, old.instance_id, old.started_at, $5::timestamptz, $6, $7, $8
           FROM old
         )
         SELECT ${RUN_COLUMNS.text} FROM upd r`,
        [id, owner.attempt, owner.instanceId, ended.waiting, ended.finishedAt, ended.status, ended.error, ended.output],
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async claimRetry(id: string, attempt: number, claim: RunClaim): Promise<Run | null> {
      if (!isUuid(id)) return null;
      const rows = await db.sql<RunRow>(
        `UPDATE runs r SET status = 'running', instance_id = $1, started_at = $2::timestamptz,
           lease_expires_at = $3::timestamptz
         WHERE r.id = $4::uuid AND r.status = 'retrying' AND r.attempt = $5::int
         RETURNING ${RUN_COLUMNS.text}`,
        [claim.instanceId, claim.at, claim.leaseExpiresAt, id, attempt],
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async listRunAttempts(runId: string): Promise<RunAttempt[]> {
      if (!isUuid(runId)) return [];
      const rows = await db.prisma.runAttempt.findMany({ where: { runId }, orderBy: { attempt: 'asc' } });
      return rows.map((row) => ({
        attempt: row.attempt,
        instanceId: row.instanceId,
        startedAt: toDate(row.startedAt),
        finishedAt: toDate(row.finishedAt)!,
        status: row.status as RunStatus,
        error: row.error,
        output: row.output,
      }));
    },

    async getRun(id: string): Promise<Run | null> {
      if (!isUuid(id)) return null;
      const row = await db.prisma.run.findUnique({ where: { id } });
      return row ? toRun(row) : null;
    },

    async getRunByOccurrence(jobId: string, scheduledFor: Date): Promise<Run | null> {
      if (!isUuid(jobId)) return null;
      const row = await db.prisma.run.findUnique({ where: { jobId_scheduledFor: { jobId, scheduledFor } } });
      return row ? toRun(row) : null;
    },

    async listRuns(query: RunListQuery): Promise<Page<Run>> {
      if (query.jobId !== undefined && !isUuid(query.jobId)) return { items: [], nextCursor: null };
      const where = sqlConditions('r', RUN_FIELD_COLUMNS, activeFilters(query, RUN_FILTERS));
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        // Row comparison matches the (scheduled_for DESC, id DESC) indexes: keyset, no OFFSET.
        where.push(Prisma.sql`(r.scheduled_for, r.id) < (${at}::timestamptz, ${id}::uuid)`);
      }
      let jobIds: string[] | null = query.jobId !== undefined ? [query.jobId] : null;
      if (query.jobSearch) {
        const matching = await jobIdsMatching(db, query.jobSearch);
        jobIds = jobIds ? jobIds.filter((id) => matching.includes(id)) : matching;
        if (jobIds.length === 0) return { items: [], nextCursor: null };
      }
      let rows: RunRow[];
      if (jobIds === null) {
        rows = await db.prisma.$queryRaw<RunRow[]>`
          SELECT ${RUN_COLUMNS} FROM runs r
          ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
          ORDER BY r.scheduled_for DESC, r.id DESC
          LIMIT ${query.limit + 1}`;
      } else {
        // One keyset walk of runs_job_newest_idx per job, each reading at most limit + 1 rows, merged: the cost
        // follows the page size and the number of jobs, not the number of runs.
        const conditions = [Prisma.sql`r.job_id = m.job_id`, ...where];
        rows = await db.prisma.$queryRaw<RunRow[]>`
          SELECT x.* FROM unnest(${jobIds}::uuid[]) AS m(job_id)
          CROSS JOIN LATERAL (
            SELECT ${RUN_COLUMNS} FROM runs r
            WHERE ${Prisma.join(conditions, ' AND ')}
            ORDER BY r.scheduled_for DESC, r.id DESC
            LIMIT ${query.limit + 1}
          ) x
          ORDER BY x."scheduledFor" DESC, x.id DESC
          LIMIT ${query.limit + 1}`;
      }
      return pageOf(rows.map(toRun), query.limit, (r) => [r.scheduledFor.toISOString(), r.id]);
    },

    async runStats(query: RunStatsQuery): Promise<RunStatsBucket[]> {
      const bucketMs = bucketMillis(query.bucketSeconds);
      if (query.jobId !== undefined && !isUuid(query.jobId)) return [];
      const fromMs = query.from.getTime();
      // One pass, one sort per bucket: float8 arithmetic (timestamps have ms precision, so rounding to whole ms is
      // exact), both percentiles from one ordered-set aggregate, counts by FILTER. The earlier version (a CTE read
      // twice, numeric maths) took seconds over a week of a million-run history.
      const rows = await db.prisma.$queryRaw<Array<{ b: number; p: number[] | null; counts: Record<string, number> }>>`
        SELECT (round(date_part('epoch', r.scheduled_for - ${query.from}::timestamptz) * 1000)::bigint / ${bucketMs}::bigint)::int AS b,
          -- Ordered-set aggregates skip NULL inputs: runs without both timestamps do not count.
          percentile_cont(ARRAY[0.5, 0.95]::float8[]) WITHIN GROUP (ORDER BY round(date_part('epoch', r.finished_at - r.started_at) * 1000)) AS p,
          json_strip_nulls(json_build_object(${Prisma.join(
            RUN_STATUSES.map((status) => Prisma.sql`${status}::text, nullif(count(*) FILTER (WHERE r.status = ${status}), 0)`),
            ', ',
          )})) AS counts
        FROM runs r
        WHERE r.scheduled_for >= ${query.from}::timestamptz AND r.scheduled_for < ${query.to}::timestamptz
          ${query.jobId !== undefined ? Prisma.sql`AND r.job_id = ${query.jobId}::uuid` : Prisma.empty}
        GROUP BY 1 ORDER BY 1`;
      return rows.map((row) => ({
        bucketStart: new Date(fromMs + Number(row.b) * bucketMs),
        counts: Object.fromEntries(Object.entries(row.counts).map(([status, n]) => [status, Number(n)])) as RunStatsBucket['counts'],
        durationP50Ms: row.p?.[0] == null ? null : Number(row.p[0]),
        durationP95Ms: row.p?.[1] == null ? null : Number(row.p[1]),
      }));
    },

    async countRunsByInstance(since: Date): Promise<InstanceRunCount[]> {
      const rows = await db.prisma.$queryRaw<InstanceRunCount[]>`
        SELECT r.instance_id AS "instanceId", count(*)::int AS count FROM runs r
        WHERE r.started_at >= ${since}::timestamptz AND r.instance_id IS NOT NULL
        GROUP BY r.instance_id
        ORDER BY count DESC, r.instance_id COLLATE "C"`;
      return rows.map((r) => ({ instanceId: r.instanceId, count: Number(r.count) }));
    },

    async countActiveRuns(jobId: string, now: Date): Promise<number> {
      if (!isUuid(jobId)) return 0;
      const rows = await db.sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM runs WHERE job_id = $1 AND status = 'running' AND lease_expires_at > $2",
        [jobId, now],
      );
      return rows[0]!.n;
    },

    async cancelRun(id: string, request: RunCancel, message: string): Promise<CancelResult> {
      if (!isUuid(id)) return { outcome: 'missing' };
      // One statement, a compare-and-set on the status: claimed or retrying ends here, running gets the request (the
      // first request is kept). A run that ended first is not touched; one that ends after this waits for the row lock
      // and finds it cancelled (claimed, retrying) or writes its own outcome (running: its owner's guarded write).
      const rows = await db.sql<RunRow>(
        `UPDATE runs r SET
           status = CASE WHEN r.status IN ('claimed', 'retrying') THEN 'cancelled' ELSE r.status END,
           finished_at = CASE WHEN r.status IN ('claimed', 'retrying') THEN $2::timestamptz ELSE r.finished_at END,
           lease_expires_at = CASE WHEN r.status IN ('claimed', 'retrying') THEN NULL ELSE r.lease_expires_at END,
           error = CASE WHEN r.status IN ('claimed', 'retrying') THEN $7 ELSE r.error END,
           cancel_at = COALESCE(r.cancel_at, $2::timestamptz),
           cancel_by_type = CASE WHEN r.cancel_at IS NULL THEN $3 ELSE r.cancel_by_type END,
           cancel_by_id = CASE WHEN r.cancel_at IS NULL THEN $4 ELSE r.cancel_by_id END,
           cancel_by_name = CASE WHEN r.cancel_at IS NULL THEN $5 ELSE r.cancel_by_name END,
           cancel_reason = CASE WHEN r.cancel_at IS NULL THEN $6 ELSE r.cancel_reason END
         WHERE r.id = $1::uuid AND r.status IN ('claimed', 'running', 'retrying')
         RETURNING ${RUN_COLUMNS.text}`,
        [id, request.at, request.by.type, request.by.id, request.by.name, request.reason, message],
      );
      if (rows[0]) {
        const run = toRun(rows[0]);
        if (run.status === 'cancelled') return { outcome: 'cancelled', run };
        // Delivered at commit to every instance's listener (watchCancelRequests); the renewal is the fallback.
        await db.pool.query('SELECT pg_notify($1, $2)', [CANCEL_CHANNEL, run.id]);
        return { outcome: 'requested', run };
      }
      const row = await db.prisma.run.findUnique({ where: { id } });
      return row ? { outcome: 'final', run: toRun(row) } : { outcome: 'missing' };
    },

    async watchCancelRequests(onRequest: (runId: string) => void): Promise<StopWatching> {
      return listenForCancels(db.url, onRequest);
    },

    async pruneRuns(olderThan: Date, limit: number): Promise<number> {
      if (limit <= 0) return 0;
      // Bounded batches keep each delete short; runs_newest_idx (read backwards) yields the oldest first.
      return db.prisma.$executeRaw`
        DELETE FROM runs WHERE id IN (
          SELECT r.id FROM runs r
          WHERE r.scheduled_for < ${olderThan}::timestamptz AND r.status NOT IN ('claimed', 'running', 'retrying')
          ORDER BY r.scheduled_for, r.id
          LIMIT ${limit}
        )`;
    },
  };
}
