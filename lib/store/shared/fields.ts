// What both stores write for a patch and filter for a list, as tables: the fields each patch may set (in a fixed
// order), and the filters of listRuns and listAudit. Each store turns them into its own terms (columns and SQL on
// PostgreSQL, document fields and query operators on MongoDB); where a store keeps a field differently (JSON text, a
// subdocument, several columns), it passes an encoder for that field.
import type { AuditEntry, AuditListQuery } from '../contract/audit';
import type { Instance } from '../contract/instances';
import type { JobPatch } from '../contract/jobs';
import type { Run, RunListQuery, RunPatch } from '../contract/runs';

/** How a store writes one patch field that it does not keep under the field's own name: the fields it becomes. */
export type FieldEncoders<P> = { [K in keyof P]?: (value: Exclude<P[K], undefined>) => Record<string, unknown> };

/**
 * The fields a patch writes, in the table's order: each field of `table` that the patch sets (undefined leaves a field
 * alone; null is a value), under its own name or through its encoder. Fields outside the table are never written.
 */
export function patchToFields<P extends object>(
  patch: P,
  table: Record<keyof P, unknown>,
  encode: FieldEncoders<P> = {},
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(table) as Array<keyof P & string>) {
    const value = patch[key];
    if (value === undefined) continue;
    const encoder = encode[key];
    if (encoder) Object.assign(fields, encoder(value as Exclude<P[typeof key], undefined>));
    else fields[key] = value;
  }
  return fields;
}

/** Every field a JobPatch may set (updateJob). */
export const JOB_PATCH_FIELDS: Record<keyof JobPatch, true> = {
  name: true,
  description: true,
  type: true,
  payload: true,
  schedule: true,
  paused: true,
  pause: true,
  timeoutSeconds: true,
  overlapPolicy: true,
  missedPolicy: true,
  tags: true,
  retry: true,
  concurrencyLimit: true,
  autoPause: true,
  alerts: true,
  nextRunAt: true,
  anchorAt: true,
};

/** Every field a RunPatch may set (updateRun), in the order of the SET list of PostgreSQL's statement. */
export const RUN_PATCH_FIELDS: Record<keyof RunPatch, true> = {
  startedAt: true,
  finishedAt: true,
  status: true,
  instanceId: true,
  attempt: true,
  error: true,
  output: true,
  leaseExpiresAt: true,
};

/** What upsertInstance writes besides the id: clockSkewMs in whole milliseconds (PostgreSQL's column is an int). */
export function instanceFields(instance: Instance): Omit<Instance, 'id'> {
  return {
    host: instance.host,
    pid: instance.pid,
    version: instance.version,
    startedAt: instance.startedAt,
    lastSeenAt: instance.lastSeenAt,
    clockSkewMs: Math.round(instance.clockSkewMs),
    stoppedAt: instance.stoppedAt,
    aliveSince: instance.aliveSince,
  };
}

export type FilterOp = '=' | '>=' | '<';

/** A list's filters: each query field that narrows the list, compared by `op` with the stored `field`. */
export type FilterTable<Q, T> = Partial<Record<keyof Q, { field: keyof T & string; op: FilterOp }>>;

/** listRuns' plain filters (jobId and jobSearch pick the jobs first, and each store walks them its own way). */
export const RUN_FILTERS: FilterTable<RunListQuery, Omit<Run, 'cancel'>> = {
  status: { field: 'status', op: '=' },
  instanceId: { field: 'instanceId', op: '=' },
  from: { field: 'scheduledFor', op: '>=' },
  to: { field: 'scheduledFor', op: '<' },
};

/** listAudit's filters: exact matches, and the [from, to) range of `at`. */
export const AUDIT_FILTERS: FilterTable<AuditListQuery, AuditEntry> = {
  actorName: { field: 'actorName', op: '=' },
  action: { field: 'action', op: '=' },
  targetType: { field: 'targetType', op: '=' },
  targetId: { field: 'targetId', op: '=' },
  from: { field: 'at', op: '>=' },
  to: { field: 'at', op: '<' },
};

/** The filters `query` sets, in the table's order. */
export function activeFilters<Q extends object, T>(
  query: Q,
  table: FilterTable<Q, T>,
): Array<{ field: keyof T & string; op: FilterOp; value: unknown }> {
  const active: Array<{ field: keyof T & string; op: FilterOp; value: unknown }> = [];
  for (const [key, filter] of Object.entries(table) as Array<[keyof Q, { field: keyof T & string; op: FilterOp }]>) {
    const value = query[key];
    if (value !== undefined) active.push({ field: filter.field, op: filter.op, value });
  }
  return active;
}
