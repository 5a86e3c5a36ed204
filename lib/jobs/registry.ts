import { scrubbingHandler } from '../secrets/fields';
import type { JobType } from './define';
import { httpJob } from './http';
import { logJob } from './log';
import { pruneRunsJob } from './prune-runs';

/**
 * Every job type the scheduler can run. Adding a type: one file in lib/jobs/ and one line here.
 * Each handler is wrapped so secret payload values never reach the run's output or error.
 */
export const jobTypes: readonly JobType[] = [httpJob, logJob, pruneRunsJob].map((type) => scrubbingHandler(type as JobType));

export function getJobType(name: string): JobType | undefined {
  return jobTypes.find((type) => type.name === name);
}

export const jobTypeNames = jobTypes.map((type) => type.name);
