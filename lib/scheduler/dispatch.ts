import 'server-only';
import type { Job } from '../store/types';

// Contract for the scheduler helper (implemented in this file):
// - enqueueOccurrence(job): makes sure an Agenda job ("ticket") exists that will fire at job.nextRunAt
//   carrying { jobId, version, scheduledFor }. No-op when the job is paused or nextRunAt is null.
//   Stale or duplicate tickets must be harmless (validated when they fire).
// - enqueueManualRun(job, scheduledFor): a one-off ticket that runs the job once at scheduledFor
//   with trigger "manual", outside the schedule chain.
export async function enqueueOccurrence(job: Job): Promise<void> {
  void job;
  throw new Error('enqueueOccurrence: not implemented yet');
}

export async function enqueueManualRun(job: Job, scheduledFor: Date): Promise<void> {
  void job;
  void scheduledFor;
  throw new Error('enqueueManualRun: not implemented yet');
}
