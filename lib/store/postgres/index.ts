import 'server-only';
import type { Store } from '../types';
import { postgresAlerts } from './alerts';
import { postgresAudit } from './audit';
import { postgresChannels } from './channels';
import { postgresClaims } from './claims';
import { PgDatabase, postgresLifecycle } from './database';
import { postgresIdentity } from './identity';
import { postgresInstances } from './instances';
import { postgresJobs } from './jobs';
import { postgresLoginAttempts } from './login-attempts';
import { postgresRunOutput } from './run-output';
import { postgresRuns } from './runs';
import { postgresSigningSecrets } from './signing-secrets';
import { postgresTickets } from './tickets';

// The PostgreSQL store: one part per aggregate (this folder's files), all on one PgDatabase (Prisma and its pool).

/** Opens the store; call migrate() before use (openStore in lib/store does). */
export async function createPostgresStore(url: string, description: string): Promise<Store> {
  const db = new PgDatabase(url);
  return {
    ...postgresLifecycle(db, description),
    ...postgresTickets(db),
    ...postgresJobs(db),
    ...postgresSigningSecrets(db),
    ...postgresClaims(db),
    ...postgresRuns(db),
    ...postgresRunOutput(db),
    ...postgresInstances(db),
    ...postgresIdentity(db),
    ...postgresLoginAttempts(db),
    ...postgresAudit(db),
    ...postgresChannels(db),
    ...postgresAlerts(db),
  };
}
