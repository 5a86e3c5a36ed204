import 'server-only';
import { randomUUID } from 'node:crypto';
import { isUuid } from '../shared/cursor';
import type { ClaimResult, ClaimStore, HeldRun, LeaseRenewal, OccurrenceClaim, Run, RunStart, RunTakeover, StartResult } from '../types';
import type { PgDatabase } from './database';
import { AGENDA_TABLE } from './migrate';
import { prepared } from './prepared';
import { RUN_COLUMNS, toRun, type RunRow } from './rows';

// The claim protocol on PostgreSQL (issue #10): claims, starts, leases, releases and takeovers, each one statement on
// the pool (named: the scheduler's hot path). A pause or delete closes the job's claims (closeClaims, from jobs.ts).

/** A pause or delete: the job's claimed runs (none started yet) will not start; each gets a 'skipped' record. */
export async function closeClaims(db: PgDatabase, jobId: string, why: string): Promise<void> {
  await db.sql(
    `UPDATE runs SET status = 'skipped', finished_at = clock_timestamp(), lease_expires_at = NULL, error = $2
     WHERE job_id = $1::uuid AND status = 'claimed'`,
    [jobId, why],
  );
}

export function postgresClaims(db: PgDatabase): ClaimStore {
  return {
    async claimOccurrence(claim: OccurrenceClaim): Promise<ClaimResult> {
      const [own, ...more] = claim.runs;
      if (!own || !isUuid(claim.jobId)) return { outcome: 'stale' };
      const records = [own, ...more];
      // One statement: the job row is locked at the expected version and occurrence (a concurrent claim waits, then finds
      // it moved), the occurrence's record is inserted (the unique key), the other records only if that one was, and the
      // pointer moves only if it was: a claim is never in memory alone, and a pointer never moves past an unrecorded
      // occurrence. (job, name) for listRuns' jobSearch in the same statement.
      const rows = await db.sql<RunRow & { matched: number; deleted: number }>(
        `WITH j AS (
           SELECT id FROM jobs WHERE id = $1::uuid AND version = $2::int AND next_run_at = $3::timestamptz AND NOT paused FOR UPDATE
         ), v AS (
           SELECT * FROM unnest($6::uuid[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[],
             $12::text[], $13::int[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::int[])
             WITH ORDINALITY AS v(id, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt, error, output,
               lease_expires_at, range_end, range_count, ord)
         ), ins AS (
           INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt,
             error, output, lease_expires_at, range_end, range_count)
           SELECT v.id, j.id, $5, v.scheduled_for, v.started_at, v.finished_at, v.status, v.trigger, v.instance_id, v.attempt,
             v.error, v.output, v.lease_expires_at, v.range_end, v.range_count
           FROM j CROSS JOIN v WHERE v.ord = 1
           ON CONFLICT (job_id, scheduled_for) DO NOTHING
           RETURNING *
         ), rest AS (
           INSERT INTO runs (id, job_id, job_name, scheduled_for, started_at, finished_at, status, trigger, instance_id, attempt,
             error, output, lease_expires_at, range_end, range_count)
           SELECT v.id, ins.job_id, ins.job_name, v.scheduled_for, v.started_at, v.finished_at, v.status, v.trigger, v.instance_id,
             v.attempt, v.error, v.output, v.lease_expires_at, v.range_end, v.range_count
           FROM ins CROSS JOIN v WHERE v.ord > 1
           ON CONFLICT (job_id, scheduled_for) DO NOTHING
         ), adv AS (
           UPDATE jobs SET next_run_at = $4::timestamptz, updated_at = $19::timestamptz WHERE id IN (SELECT job_id FROM ins)
         ), names AS (
           INSERT INTO run_job_names (job_id, job_name) SELECT job_id, job_name FROM ins ON CONFLICT DO NOTHING
         ), fired AS (
           DELETE FROM "${AGENDA_TABLE}" WHERE id = $20::uuid RETURNING 1
         )
         SELECT (SELECT count(*)::int FROM j) AS matched, (SELECT count(*)::int FROM fired) AS deleted, x.*
         FROM (SELECT 1) AS one LEFT JOIN (SELECT ${RUN_COLUMNS.text} FROM ins r) AS x ON TRUE`,
        [
          claim.jobId,
          claim.expected.version,
          claim.expected.nextRunAt,
          claim.nextRunAt,
          own.jobName,
          records.map(() => randomUUID()),
          records.map((r) => r.scheduledFor),
          records.map((r) => r.startedAt),
          records.map((r) => r.finishedAt),
          records.map((r) => r.status),
          records.map((r) => r.trigger),
          records.map((r) => r.instanceId),
          records.map((r) => r.attempt),
          records.map((r) => r.error),
          records.map((r) => r.output),
          records.map((r) => r.leaseExpiresAt),
          records.map((r) => r.rangeEnd ?? null),
          records.map((r) => r.rangeCount ?? null),
          new Date(),
          claim.ticketId !== undefined && isUuid(claim.ticketId) ? claim.ticketId : null,
        ],
      );
      const row = rows[0]!;
      const deleted = row.deleted > 0 ? { ticketDeleted: true as const } : {};
      if (row.id) return { outcome: 'claimed', run: toRun(row), ...deleted };
      return { outcome: row.matched > 0 ? 'taken' : 'stale', ...deleted };
    },

    async startRun(run: Pick<Run, 'id' | 'jobId' | 'scheduledFor'>, instanceId: string, start: RunStart): Promise<StartResult> {
      if (!isUuid(run.id)) return { outcome: 'lost' };
      // Judged on the database's clock (clock_timestamp: now() is the transaction's start): never before it is due. In
      // order: not while an earlier occurrence of the job is still claimed. Not for a job paused or deleted meanwhile.
      // The start is the database's time of this write, not the instance's estimate: starts then sort as they happened
      // across instances, which the overlap policy's "started first wins" relies on (found by the fault harness: two
      // instances' estimates 9 ms apart made two runs of a skip job each believe it started first).
      const rows = await db.sql<RunRow>(
        `UPDATE runs r SET status = 'running', started_at = CASE WHEN $3::boolean THEN NULL ELSE clock_timestamp() END,
           lease_expires_at = $4::timestamptz, trigger = $5
         WHERE r.id = $1::uuid AND r.status = 'claimed' AND r.instance_id = $2 AND r.scheduled_for <= clock_timestamp()
           AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.job_id = r.job_id AND e.status = 'claimed' AND e.scheduled_for < r.scheduled_for)
           AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND NOT j.paused)
         RETURNING ${RUN_COLUMNS.text}`,
        [run.id, instanceId, start.queued, start.leaseExpiresAt, start.trigger],
      );
      if (rows[0]) return { outcome: 'started', run: toRun(rows[0]) };
      // Why not (rare): the same conditions, one by one.
      const why = await db.sql<{ mine: boolean; active: boolean; earlier: boolean; due: boolean }>(
        `SELECT (r.status = 'claimed' AND r.instance_id = $2) AS mine,
           EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND NOT j.paused) AS active,
           EXISTS (SELECT 1 FROM runs e WHERE e.job_id = r.job_id AND e.status = 'claimed' AND e.scheduled_for < r.scheduled_for) AS earlier,
           r.scheduled_for <= clock_timestamp() AS due
         FROM runs r WHERE r.id = $1::uuid`,
        [run.id, instanceId],
      );
      const state = why[0];
      if (!state || !state.mine || !state.active) return { outcome: 'lost' };
      return { outcome: 'waiting', reason: state.due ? 'earlier' : 'early' };
    },

    async takeOverClaim(
      id: string,
      expected: { instanceId: string | null; leaseExpiredBefore: Date },
      claim: { instanceId: string; leaseExpiresAt: Date },
    ): Promise<Run | null> {
      if (!isUuid(id)) return null;
      const rows = await db.sql<RunRow>(
        `UPDATE runs r SET instance_id = $2, lease_expires_at = $3::timestamptz
         WHERE r.id = $1::uuid AND r.status = 'claimed' AND r.instance_id IS NOT DISTINCT FROM $4 AND r.lease_expires_at < $5::timestamptz
         RETURNING ${RUN_COLUMNS.text}`,
        [id, claim.instanceId, claim.leaseExpiresAt, expected.instanceId, expected.leaseExpiredBefore],
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async renewLeases(instanceId: string, runs: HeldRun[], leaseExpiresAt: Date): Promise<LeaseRenewal> {
      const held = runs.filter((r) => isUuid(r.id));
      if (held.length === 0) return { renewed: [], cancelRequested: [] };
      const rows = await db.sql<{ id: string; cancel: boolean }>(
        `UPDATE runs r SET lease_expires_at = $2::timestamptz FROM unnest($3::uuid[], $4::int[]) AS h(id, attempt)
         WHERE r.id = h.id AND r.attempt = h.attempt AND r.instance_id = $1 AND r.status IN ('claimed', 'running')
         RETURNING r.id, r.cancel_at IS NOT NULL AS cancel`,
        [instanceId, leaseExpiresAt, held.map((r) => r.id), held.map((r) => r.attempt)],
      );
      return { renewed: rows.map((r) => r.id), cancelRequested: rows.filter((r) => r.cancel).map((r) => r.id) };
    },

    async releaseRuns(instanceId: string, runs: HeldRun[], expiredAt: Date, note?: string): Promise<number> {
      const held = runs.filter((r) => isUuid(r.id));
      if (held.length === 0) return 0;
      const { rowCount } = await db.pool.query(
        prepared(
          `UPDATE runs r SET lease_expires_at = $2::timestamptz, error = COALESCE($5, r.error) FROM unnest($3::uuid[], $4::int[]) AS h(id, attempt)
           WHERE r.id = h.id AND r.attempt = h.attempt AND r.instance_id = $1 AND r.status IN ('claimed', 'running')`,
          [instanceId, expiredAt, held.map((r) => r.id), held.map((r) => r.attempt), note ?? null],
        ),
      );
      return rowCount ?? 0;
    },

    async anyInstanceAliveAt(at: Date): Promise<boolean> {
      const rows = await db.sql<{ alive: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM instances WHERE alive_since <= $1::timestamptz AND last_seen_at >= $1::timestamptz
           AND (stopped_at IS NULL OR stopped_at >= $1::timestamptz)) AS alive`,
        [at],
      );
      return rows[0]!.alive;
    },

    async takeOverRun(id: string, expected: { attempt: number; leaseExpiredBefore: Date }, takeover: RunTakeover): Promise<Run | null> {
      if (!isUuid(id)) return null;
      // One statement: FOR UPDATE makes a concurrent takeover (or lease renewal) wait, then re-check the conditions on
      // the new row version and find nothing, so exactly one instance moves the run to the next attempt.
      const rows = await db.sql<RunRow>(
        `WITH old AS (
           SELECT r.* FROM runs r
           WHERE r.id = $1::uuid AND r.status = 'running' AND r.attempt = $2::int
             AND r.lease_expires_at < $3::timestamptz AND r.cancel_at IS NULL
           FOR UPDATE
         ), upd AS (
           UPDATE runs r SET attempt = old.attempt + 1, instance_id = $4,
             started_at = CASE WHEN old.started_at IS NULL THEN NULL ELSE $5::timestamptz END,
             finished_at = NULL, lease_expires_at = $6::timestamptz, error = NULL, output = NULL
           FROM old WHERE r.id = old.id
           RETURNING r.*
         ), hist AS (
           INSERT INTO run_attempts (run_id, attempt, instance_id, started_at, finished_at, status, error, output)
           SELECT old.id, old.attempt, old.instance_id, old.started_at, $7::timestamptz,
             CASE WHEN old.started_at IS NULL THEN 'abandoned' ELSE 'unknown' END, $8, old.output
           FROM old
         )
         SELECT ${RUN_COLUMNS.text} FROM upd r`,
        [
          id,
          expected.attempt,
          expected.leaseExpiredBefore,
          takeover.instanceId,
          takeover.at,
          takeover.leaseExpiresAt,
          takeover.at,
          takeover.error,
        ],
      );
      return rows[0] ? toRun(rows[0]) : null;
    },

    async listExpiredRuns(before: Date, limit: number): Promise<Run[]> {
      const rows = await db.prisma.run.findMany({
        where: { status: { in: ['claimed', 'running'] }, leaseExpiresAt: { lt: before } },
        orderBy: [{ leaseExpiresAt: 'asc' }, { id: 'asc' }],
        take: limit,
      });
      return rows.map(toRun);
    },
  };
}
