import 'server-only';
import { instanceFields } from '../shared/fields';
import type { Instance, InstanceStore } from '../types';
import type { MongoDatabase } from './database';
import { toInstance } from './documents';

export function mongoInstances(db: MongoDatabase): InstanceStore {
  return {
    async upsertInstance(instance: Instance): Promise<void> {
      await db.instances.updateOne({ _id: instance.id }, { $set: instanceFields(instance) }, { upsert: true });
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
