// The store's contract: the domain types and the parts a store is made of, one file per aggregate in
// lib/store/contract/, composed here into Store. Every domain type stays importable from this module.
import type { AlertStore } from './contract/alerts';
import type { AuditStore } from './contract/audit';
import type { ChannelStore } from './contract/channels';
import type { ClaimStore } from './contract/claims';
import type { DatabaseLifecycle, TicketStore } from './contract/database';
import type { IdentityStore } from './contract/identity';
import type { InstanceStore } from './contract/instances';
import type { JobStore } from './contract/jobs';
import type { LoginAttemptStore } from './contract/login-attempts';
import type { RunOutputStore } from './contract/run-output';
import type { RunStore } from './contract/runs';
import type { SigningSecretStore } from './contract/signing-secrets';

export * from './contract/alerts';
export * from './contract/audit';
export * from './contract/channels';
export * from './contract/claims';
export * from './contract/database';
export * from './contract/identity';
export * from './contract/instances';
export * from './contract/jobs';
export * from './contract/login-attempts';
export * from './contract/run-output';
export * from './contract/runs';
export * from './contract/signing-secrets';

/**
 * Everything the app keeps in its database, apart from Agenda's own collection/table.
 * Implemented by lib/store/postgres and lib/store/mongo; tests/store/conformance/ holds both to the same behaviour.
 * Ordering contracts: jobs list by name ascending (then id); runs list newest first by scheduledFor, then id;
 * audit newest first by at, then id; users by lowercased username (code points), then id; API tokens newest first
 * by createdAt, then id; alert channels by name (code points), then id; alerts newest first
 * by createdAt, then id. Lists with a cursor page by keyset (no offsets).
 */
export type Store = DatabaseLifecycle &
  TicketStore &
  JobStore &
  SigningSecretStore &
  ClaimStore &
  RunStore &
  RunOutputStore &
  InstanceStore &
  IdentityStore &
  LoginAttemptStore &
  AuditStore &
  ChannelStore &
  AlertStore;
