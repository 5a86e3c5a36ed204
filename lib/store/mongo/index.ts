import 'server-only';
import { MongoClient } from 'mongodb';
import type { Store } from '../types';
import { mongoAlerts } from './alerts';
import { mongoAudit } from './audit';
import { mongoChannels } from './channels';
import { mongoClaims } from './claims';
import { databaseName, describeMongoUrl, MongoDatabase, mongoLifecycle } from './database';
import { mongoIdentity } from './identity';
import { mongoInstances } from './instances';
import { mongoJobs } from './jobs';
import { mongoLoginAttempts } from './login-attempts';
import { mongoRunOutput } from './run-output';
import { mongoRuns } from './runs';
import { mongoSigningSecrets } from './signing-secrets';
import { mongoTickets } from './tickets';

// The MongoDB store: one part per aggregate (this folder's files), all on one MongoDatabase (the client and its
// collections); schema.ts holds the collections, document types, indexes and migration, documents.ts the mapping.

export { databaseName, describeMongoUrl };
export {
  AGENDA_COLLECTION,
  AGENDA_LOG_COLLECTION,
  ALERT_CHANNELS,
  API_TOKENS,
  AUDIT_LOG,
  INSTANCES,
  JOB_SIGNING_SECRETS,
  JOBS,
  LOGIN_ATTEMPTS,
  RUN_JOB_NAMES,
  RUN_OUTPUT_CHUNKS,
  RUNS,
  SESSIONS,
  USERS,
} from './schema';

/** Opens (connects) the store; call migrate() before use (openStore in lib/store does). */
export async function createMongoStore(url: string): Promise<Store> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 15_000 });
  await client.connect();
  const db = new MongoDatabase(client, client.db(databaseName(url)));
  return {
    ...mongoLifecycle(db, describeMongoUrl(url)),
    ...mongoTickets(db),
    ...mongoJobs(db),
    ...mongoSigningSecrets(db),
    ...mongoClaims(db),
    ...mongoRuns(db),
    ...mongoRunOutput(db),
    ...mongoInstances(db),
    ...mongoIdentity(db),
    ...mongoLoginAttempts(db),
    ...mongoAudit(db),
    ...mongoChannels(db),
    ...mongoAlerts(db),
  };
}
