// Shared by the bulk form (browser) and its server action; no server code here.
export interface BulkState {
  /** What happened, in one sentence; null before the first submission. */
  message: string | null;
  ok: boolean;
  /** Jobs the command did not go through for, with the reason. */
  failed: Array<{ id: string; name: string; error: string }>;
}

export const initialBulkState: BulkState = { message: null, ok: true, failed: [] };
