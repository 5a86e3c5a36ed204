import 'server-only';
import { boundChunk } from '../shared/run-output';
import type { RunOutputChunk, RunOutputMark, RunOutputStore } from '../types';
import type { MongoDatabase } from './database';
import { DUPLICATE_KEY, mongoCode, type RunOutputChunkDoc } from './schema';

// Live output on MongoDB: run_output_chunks, one document per flush; _id "<runId>:<attempt>:<seq>" makes a seq unique.

function toChunk(doc: RunOutputChunkDoc): RunOutputChunk {
  return { runId: doc.runId, attempt: doc.attempt, seq: doc.seq, offset: doc.offset, text: doc.text, at: doc.at };
}

export function mongoRunOutput(db: MongoDatabase): RunOutputStore {
  return {
    async appendRunOutput(chunk: RunOutputChunk, maxChars: number): Promise<boolean> {
      const { offset, text, cutoff } = boundChunk(chunk, maxChars);
      try {
        await db.runOutput.insertOne({
          _id: `${chunk.runId}:${chunk.attempt}:${chunk.seq}`,
          runId: chunk.runId,
          attempt: chunk.attempt,
          seq: chunk.seq,
          offset,
          text,
          at: chunk.at,
        });
      } catch (err) {
        if (mongoCode(err) === DUPLICATE_KEY) return false;
        throw err;
      }
      // What the bound drops: earlier attempts, and this attempt's chunks that start before the cut-off.
      await db.runOutput.deleteMany({
        runId: chunk.runId,
        $or: [{ attempt: { $lt: chunk.attempt } }, { attempt: chunk.attempt, offset: { $lt: cutoff } }],
      });
      return true;
    },

    async listRunOutput(runId: string, afterSeq?: number): Promise<RunOutputChunk[]> {
      const newest = await db.runOutput.findOne({ runId }, { sort: { attempt: -1, seq: -1 }, projection: { attempt: 1 } });
      if (!newest) return [];
      const docs = await db.runOutput
        .find({ runId, attempt: newest.attempt, seq: { $gt: afterSeq ?? 0 } })
        .sort({ seq: 1 })
        .toArray();
      return docs.map(toChunk);
    },

    async runOutputMarks(runIds: readonly string[]): Promise<RunOutputMark[]> {
      const ids = [...new Set(runIds)].slice(0, 100);
      // One indexed lookup per run: a poller watches a handful.
      const marks = await Promise.all(
        ids.map((runId) => db.runOutput.findOne({ runId }, { sort: { attempt: -1, seq: -1 }, projection: { attempt: 1, seq: 1 } })),
      );
      return marks.flatMap((m, i) => (m ? [{ runId: ids[i]!, attempt: m.attempt, seq: m.seq }] : []));
    },

    async deleteRunOutput(runId: string): Promise<number> {
      const { deletedCount } = await db.runOutput.deleteMany({ runId });
      return deletedCount;
    },
  };
}
