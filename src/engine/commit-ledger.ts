/**
 * Commits whose EndTxn was sent but whose outcome never arrived (a timeout, a lost connection): they may have
 * committed or not. The task manager owns the ledger, one per process, because a task whose commit failed is often
 * replaced (its session timed out meanwhile) before it re-initializes: its successor for the same partition takes
 * the entry and settles it by re-reading the committed offset.
 */
import type { Logger } from 'pino';
import { classify } from '../errors/classify.js';
import { CommitOutcomeUnknownError, StageError } from '../errors/errors.js';
import { errorMessage } from '../errors/message.js';

/** A commit that failed after EndTxn may have been sent. */
export interface UnsettledCommit {
  /** The transactional attempt whose commit is in doubt (its `attemptId` lineage header). */
  attemptId: string;
  /** The committed offset before the transaction, and the one it would have committed. */
  fromOffset: bigint;
  endOffset: bigint;
}

/** What a task may do with the ledger: note its own commit in doubt, take its partition's entry when it settles. */
export interface UnsettledCommits {
  record(partition: number, commit: UnsettledCommit): void;
  /** Removes and returns the partition's entry: only one initialization settles it. */
  take(partition: number): UnsettledCommit | undefined;
}

export class CommitLedger implements UnsettledCommits {
  private readonly byPartition = new Map<number, UnsettledCommit>();

  /** A later commit in doubt replaces an earlier one: only the latest can still be open. */
  record(partition: number, commit: UnsettledCommit): void {
    this.byPartition.set(partition, { ...commit });
  }

  take(partition: number): UnsettledCommit | undefined {
    const commit = this.byPartition.get(partition);
    this.byPartition.delete(partition);
    return commit;
  }

  /** Partitions with a commit in doubt, for diagnostics. */
  get partitions(): readonly number[] {
    return [...this.byPartition.keys()].sort((a, b) => a - b);
  }
}

/**
 * A commit failed after EndTxn may have been sent. Fenced: known not to have landed, nothing to record. Otherwise
 * (a timeout, a lost connection) it may have committed: the ledger keeps it for the partition's next
 * initialization to settle, and a retriable failure becomes CommitOutcomeUnknownError, which says so. Returns the
 * error the task recovers from.
 */
export function recordIfInDoubt(
  ledger: UnsettledCommits,
  log: Logger,
  partition: number,
  error: unknown,
  commit: UnsettledCommit,
): unknown {
  const kind = classify(error);
  if (kind === 'fenced') return error;
  ledger.record(partition, commit);
  const code = error instanceof StageError ? error.code : 'UNKNOWN';
  log.warn(
    { attemptId: commit.attemptId, code, err: errorMessage(error) },
    'commit outcome unknown: recorded for the next initialization to settle',
  );
  if (kind !== 'retriable' || error instanceof CommitOutcomeUnknownError) return error;
  return new CommitOutcomeUnknownError(
    `the commit of ${commit.attemptId} has an unknown outcome: ${errorMessage(error)}`,
    { cause: error },
  );
}
