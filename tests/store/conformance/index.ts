/**
 * Store conformance suite: every Store implementation (PostgreSQL, MongoDB) must pass it unchanged.
 * Nothing here may depend on the database behind the store.
 *
 * `open()` must return a store on a FRESH, EMPTY database that has NOT been migrated yet (the suite calls
 * migrate() itself, and races it). `another()`, when given, opens one more store on the same database (a second
 * process, as far as the database can tell); `cleanup()` closes everything and drops the database.
 */
import { describe } from 'node:test';
import { alertConformance } from './alerts';
import { auditConformance } from './audit';
import { autoPauseConformance } from './auto-pause';
import { channelConformance } from './channels';
import { cancelConformance } from './cancels';
import { claimConformance } from './claims';
import { databaseConformance } from './database';
import { identityConformance } from './identity';
import { instanceConformance } from './instances';
import { jobConformance } from './jobs';
import { loginAttemptConformance } from './login-attempts';
import { runOutputConformance } from './run-output';
import { runConformance } from './runs';
import { signingSecretConformance } from './signing-secrets';
import type { Open } from './support';

export type { ConformanceTarget } from './support';

/** The whole suite, one part per aggregate of the Store contract (lib/store/contract/), each test on a fresh database. */
export function storeConformance(label: string, open: Open): void {
  describe(`Store conformance: ${label}`, () => {
    databaseConformance(open);
    jobConformance(open);
    autoPauseConformance(open);
    signingSecretConformance(open);
    claimConformance(open);
    runConformance(open);
    runOutputConformance(open);
    cancelConformance(open);
    instanceConformance(open);
    identityConformance(open);
    loginAttemptConformance(open);
    auditConformance(open);
    alertConformance(open);
    channelConformance(open);
  });
}
