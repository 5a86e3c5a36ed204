import 'server-only';
import { instanceFields } from '../shared/fields';
import type { Instance, InstanceStore } from '../types';
import type { PgDatabase } from './database';
import { toInstance } from './rows';

export function postgresInstances(db: PgDatabase): InstanceStore {
  return {
    async upsertInstance(instance: Instance): Promise<void> {
      const data = instanceFields(instance);
      await db.prisma.instance.upsert({ where: { id: instance.id }, create: { id: instance.id, ...data }, update: data });
    },

    async listInstances(): Promise<Instance[]> {
      const rows = await db.prisma.instance.findMany({ orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }] });
      return rows.map(toInstance);
    },

    async pruneInstances(lastSeenBefore: Date): Promise<number> {
      const { count } = await db.prisma.instance.deleteMany({ where: { lastSeenAt: { lt: lastSeenBefore } } });
      return count;
    },
  };
}
