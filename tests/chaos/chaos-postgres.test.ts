/** Bounded chaos run on PostgreSQL (tests/chaos/bounded.ts): aimed faults, database restarts, violations must be 0. */
import { boundedChaosTest } from './bounded';

boundedChaosTest('postgres');
