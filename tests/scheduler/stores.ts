/**
 * The stores the store-independent scheduler test files run on, one after the other in one process: PostgreSQL, then
 * MongoDB (the standalone wire-compatible test server, polling dispatch; MONGODB_URL when set).
 */
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';
import type { StoreFactory } from './cluster-suite';

export const SCHEDULER_STORES: StoreFactory[] = [
  { name: 'postgres', start: startTestPostgres },
  { name: 'mongodb', start: () => startTestMongo() },
];
