import 'server-only';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { AgendaBackend } from 'agenda';
import type { TicketStore } from '../types';
import type { MongoDatabase } from './database';
import { AGENDA_COLLECTION, AGENDA_LOG_COLLECTION } from './schema';

// Agenda's tickets on MongoDB: its backend on the store's own client; no housekeeping needed.
export function mongoTickets(db: MongoDatabase): TicketStore {
  return {
    async compactTickets(): Promise<void> {
      // WiredTiger reuses the space of deleted documents and its indexes hold no dead entries to walk.
    },

    createAgendaBackend(): AgendaBackend {
      // Shares this store's client: the backend's disconnect() leaves a passed-in Db open, close() closes it.
      // Agenda creates its own index on connect; concurrent identical createIndex calls are harmless.
      return new MongoBackend({ mongo: db.mongo, collection: AGENDA_COLLECTION, logCollection: AGENDA_LOG_COLLECTION });
    },
  };
}
