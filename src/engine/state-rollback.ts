/**
 * How a task's in-memory state follows its transactions: a failed transaction's changes are dropped, and every
 * initialization rebuilds the state from the changelog. A seam of its own so that a negative control can break
 * exactly this rule (see src/negative-controls/) without a branch in the task.
 */
import type { StateStore, StoreWrites } from './state-store.js';

export interface StateRollbackPort {
  /** A transaction failed: its state changes are dropped, so state is the changelog as of the last commit. */
  dropFailed(transaction: StoreWrites): void;
  /** Before a restore: empties the store and says true; false keeps memory as it is and skips the restore. */
  clearForRestore(store: StateStore): boolean;
}

export const STATE_ROLLBACK: StateRollbackPort = {
  dropFailed: (transaction) => {
    transaction.discard();
  },
  clearForRestore: (store) => {
    store.clear();
    return true;
  },
};
