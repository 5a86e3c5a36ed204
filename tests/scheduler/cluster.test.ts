/**
 * The cluster suite (tests/scheduler/cluster-suite.ts) on PostgreSQL, then on MongoDB (the wire-compatible test
 * server unless MONGODB_URL is set). One after the other in one file: six `next start` processes at once would
 * measure the machine, not the scheduler.
 */
import { startTestMongo } from '../support/mongo';
import { startTestPostgres } from '../support/postgres';
import { clusterSuite } from './cluster-suite';

clusterSuite({ name: 'postgres', start: startTestPostgres });
clusterSuite({ name: 'mongodb', start: startTestMongo });
