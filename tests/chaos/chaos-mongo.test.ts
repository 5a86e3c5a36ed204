/**
 * Bounded chaos run on the MongoDB-wire test server (MONGODB_URL when set; tests/chaos/bounded.ts): aimed faults, no
 * database restarts (the test server keeps everything in memory), violations must be 0.
 */
import { boundedChaosTest } from './bounded';

boundedChaosTest('mongodb');
