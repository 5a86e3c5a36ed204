// Instances: the processes that run the scheduler, as their heartbeats record them.

export interface Instance {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  /** Local clock minus database clock, in ms, measured at the last heartbeat. */
  clockSkewMs: number;
  stoppedAt: Date | null;
  /**
   * Start of the instance's current unbroken run of heartbeats (no gap longer than its lease). With lastSeenAt it says
   * when the instance was up: a frozen or cut-off instance starts a new run of heartbeats when it comes back.
   */
  aliveSince: Date;
}

/** The instances' heartbeats. */
export interface InstanceStore {
  upsertInstance(instance: Instance): Promise<void>;
  listInstances(): Promise<Instance[]>;
  /** Deletes instances last seen before the cut-off; returns how many. */
  pruneInstances(lastSeenBefore: Date): Promise<number>;
}
