import 'server-only';
import type { Instance, InstanceStore } from '../types';
import type { MongoDatabase } from './database';
import { toInstance } from './documents';

export function mongoInstances(db: MongoDatabase): InstanceStore {
  return {
    async upsertInstance(instance: Instance): Promise<void> {
      await db.instances.updateOne(
        { _id: instance.id },
        {
          $set: {
            host: instance.host,
            pid: instance.pid,
            version: instance.version,
            startedAt: instance.startedAt,
            lastSeenAt: instance.lastSeenAt,
            // Whole milliseconds, as the PostgreSQL store keeps them.
            clockSkewMs: Math.round(instance.clockSkewMs),
            stoppedAt: instance.stoppedAt,
            aliveSince: instance.aliveSince,
          },
        },
        { upsert: true },
      );
    },

    async listInstances(): Promise<Instance[]> {
      const docs = await db.instances.find().sort({ lastSeenAt: -1, _id: 1 }).toArray();
      return docs.map(toInstance);
    },

    async pruneInstances(lastSeenBefore: Date): Promise<number> {
      const { deletedCount } = await db.instances.deleteMany({ lastSeenAt: { $lt: lastSeenBefore } });
      return deletedCount;
    },
  };
}
