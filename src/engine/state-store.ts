/**
 * A task's state, as the engine sees it: committed state that only restore and a committed transaction change,
 * and copy-on-write transactions over it whose changes become changelog records. The engine owns the changelog
 * topic (partition = the input partition), restores from it read_committed before `init`, applies a
 * transaction's changes only after its Kafka commit and discards them on abort. What a key means is the store's.
 */

export interface ChangelogEntry {
  key: Buffer;
  /** null is a tombstone. */
  value: Buffer | null;
}

/** The writes of one Kafka transaction over a store; the processor reads and writes state only through these. */
export interface StoreWrites {
  /** The stream time as this transaction sees it (null: no record has set it yet). */
  streamTimeMs(): number | null;
  /** max(current, t): stream time never goes back; persisted in the changelog with the state. */
  advanceStreamTime(eventTimeMs: number): void;
  /** Changelog records for everything changed since begin (latest value per key, the stream time when moved). */
  prepare(): ChangelogEntry[];
  /** After the Kafka commit: the changes become the committed state. */
  apply(): void;
  /** After an abort or a failure: the store is as before begin. */
  discard(): void;
}

export interface StateStore<W extends StoreWrites = StoreWrites> {
  /** The committed stream time. */
  readonly streamTimeMs: number | null;
  /** Committed entries, for the idle flush (an empty store has nothing to flush) and for status. */
  readonly size: number;
  /** At most one open transaction; opening a second throws. */
  begin(): W;
  /**
   * The committed state as the changelog records that rebuild it through `restore`: one per key, latest value,
   * no tombstones. Committed state only, so this is the state as of the last commit (a local checkpoint).
   */
  exportChangelog(): ChangelogEntry[];
  /** One changelog record during restore (latest wins; null deletes). */
  restore(key: Buffer, value: Buffer | null): void;
  clear(): void;
}
