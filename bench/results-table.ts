/** The table every peer's worker writes each handler start into (Cronplane uses its own runs table instead). */
import type pg from 'pg';

export const STARTS_DDL = `CREATE TABLE IF NOT EXISTS bench_starts (
  job text NOT NULL,
  occurrence timestamptz(3),
  started_at timestamptz(3) NOT NULL,
  worker text NOT NULL
)`;

export async function recordStarts(
  pool: pg.Pool,
  rows: { job: string; occurrence: Date | null; startedAt: Date }[],
  worker: string,
): Promise<void> {
  if (rows.length === 0) return;
  const params: unknown[] = [];
  const tuples = rows.map((r, i) => {
    params.push(r.job, r.occurrence, r.startedAt);
    return `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3}, $${rows.length * 3 + 1})`;
  });
  params.push(worker);
  await pool.query(`INSERT INTO bench_starts (job, occurrence, started_at, worker) VALUES ${tuples.join(', ')}`, params);
}
