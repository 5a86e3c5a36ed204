/** What the Cancel button's action answered: done (how) or a refusal to show. */
export interface CancelRunState {
  done?: 'cancelled' | 'requested';
  error?: string;
}
