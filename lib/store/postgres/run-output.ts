import 'server-only';
import { isUuid } from '../shared/cursor';
import { boundChunk } from '../shared/run-output';
import type { RunOutputChunk, RunOutputMark, RunOutputStore } from '../types';
import type { PgDatabase } from './database';
import { toDate } from './rows';

// Live output on PostgreSQL: run_output_chunks, one row per flush, keyed (run_id, attempt, seq); deleted with the run.

interface ChunkRow {
  runId: string;
  attempt: number;
  seq: number;
  offset: number;
  text: string;
  at: Date;
}

function toChunk(row: ChunkRow): RunOutputChunk {
  return { runId: row.runId, attempt: row.attempt, seq: row.seq, offset: row.offset, text: row.text, at: toDate(row.at)! };
}

export function postgresRunOutput(db: PgDatabase): RunOutputStore {
  return {
    async appendRunOutput(chunk: RunOutputChunk, maxChars: number): Promise<boolean> {
      if (!isUuid(chunk.runId)) return false;
      const { offset, text, cutoff } = boundChunk(chunk, maxChars);
      // One statement: the insert (only for an existing run, once per seq) and, when it inserted, the delete of what the
      // bound drops. Both see the same snapshot, so the new row is not among the deleted.
      const rows = await db.prisma.$queryRaw<Array<{ n: number }>>`
        WITH ins AS (
          INSERT INTO run_output_chunks (run_id, attempt, seq, "offset", text, at)
          SELECT r.id, ${chunk.attempt}::int, ${chunk.seq}::int, ${offset}::int, ${text}, ${chunk.at}::timestamptz
          FROM runs r WHERE r.id = ${chunk.runId}::uuid
          ON CONFLICT DO NOTHING
          RETURNING 1
        ), del AS (
          DELETE FROM run_output_chunks o
          WHERE o.run_id = ${chunk.runId}::uuid
            AND (o.attempt < ${chunk.attempt}::int OR (o.attempt = ${chunk.attempt}::int AND o."offset" < ${cutoff}::int))
            AND EXISTS (SELECT 1 FROM ins)
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins)::int AS n`;
      return (rows[0]?.n ?? 0) > 0;
    },

    async listRunOutput(runId: string, afterSeq?: number): Promise<RunOutputChunk[]> {
      if (!isUuid(runId)) return [];
      const rows = await db.prisma.$queryRaw<ChunkRow[]>`
        SELECT o.run_id AS "runId", o.attempt, o.seq, o."offset", o.text, o.at FROM run_output_chunks o
        WHERE o.run_id = ${runId}::uuid
          AND o.attempt = (SELECT max(m.attempt) FROM run_output_chunks m WHERE m.run_id = ${runId}::uuid)
          AND o.seq > ${afterSeq ?? 0}::int
        ORDER BY o.seq`;
      return rows.map(toChunk);
    },

    async runOutputMarks(runIds: readonly string[]): Promise<RunOutputMark[]> {
      const ids = [...new Set(runIds.filter(isUuid))].slice(0, 100);
      if (ids.length === 0) return [];
      return db.prisma.$queryRaw<RunOutputMark[]>`
        SELECT DISTINCT ON (o.run_id) o.run_id AS "runId", o.attempt, o.seq FROM run_output_chunks o
        WHERE o.run_id = ANY(${ids}::uuid[])
        ORDER BY o.run_id, o.attempt DESC, o.seq DESC`;
    },

    async deleteRunOutput(runId: string): Promise<number> {
      if (!isUuid(runId)) return 0;
      return db.prisma.$executeRaw`DELETE FROM run_output_chunks WHERE run_id = ${runId}::uuid`;
    },
  };
}
