import type { JobType } from './define';
import { httpJob } from './http';
import { logJob } from './log';

/** Every job type the scheduler can run. Adding a type: one file in lib/jobs/ and one line here. */
export const jobTypes: readonly JobType[] = [httpJob, logJob];

export function getJobType(name: string): JobType | undefined {
  return jobTypes.find((type) => type.name === name);
}

export const jobTypeNames = jobTypes.map((type) => type.name);
