/**
 * What a read_committed reader sees of one partition, decided from the log itself: every record as
 * read_uncommitted fetched it, control records included. A transactional record is visible only once its
 * producer's own COMMIT marker follows it; an ABORT marker drops it; a transaction with no marker yet is still
 * open, and the last stable offset (LSO) stops at its first record, so nothing from there on is visible.
 * This shares nothing with a client's abort filter (kafkajs's list of aborted transactions): it is the rule
 * the broker writes markers by, applied directly.
 */

/** Control record key: int16 version, int16 type. */
export const CONTROL_ABORT = 0;
export const CONTROL_COMMIT = 1;

export type LogEntry<T> =
  | { kind: 'data'; offset: bigint; producerId: string; transactional: boolean; record: T }
  | { kind: 'control'; offset: bigint; producerId: string; type: number };

export interface PartitionView<T> {
  /** Records read_committed sees, in offset order. */
  visible: T[];
  /** Data records of aborted transactions. */
  aborted: number;
  /** Data records of transactions still open (beyond the LSO). */
  pending: number;
  /** Committed or non-transactional records that lie beyond the LSO, hence not visible yet. */
  beyondStable: number;
  /** First offset of the oldest open transaction, or the end offset when none is open. */
  lastStableOffset: bigint;
}

/** Type of a control record from its key bytes; null when the key is not a control key. */
export function controlType(key: Uint8Array | null): number | null {
  if (key === null || key.length < 4) return null;
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return view.getInt16(2);
}

/** Entries must be in offset order, as the log holds them; endOffset is the read_uncommitted end (high watermark). */
export function committedView<T>(entries: Iterable<LogEntry<T>>, endOffset: bigint): PartitionView<T> {
  const open = new Map<string, { first: bigint; records: { offset: bigint; record: T }[] }>();
  const settled: { offset: bigint; record: T }[] = [];
  let aborted = 0;
  for (const entry of entries) {
    if (entry.kind === 'control') {
      // Other control types (leader change, snapshots) end no transaction.
      if (entry.type !== CONTROL_ABORT && entry.type !== CONTROL_COMMIT) continue;
      const txn = open.get(entry.producerId);
      if (txn === undefined) continue; // a marker for a transaction that wrote nothing here
      open.delete(entry.producerId);
      if (entry.type === CONTROL_COMMIT) settled.push(...txn.records);
      else aborted += txn.records.length;
      continue;
    }
    if (!entry.transactional) {
      settled.push({ offset: entry.offset, record: entry.record });
      continue;
    }
    const txn = open.get(entry.producerId);
    if (txn === undefined) {
      open.set(entry.producerId, {
        first: entry.offset,
        records: [{ offset: entry.offset, record: entry.record }],
      });
    } else {
      txn.records.push({ offset: entry.offset, record: entry.record });
    }
  }
  let lastStableOffset = endOffset;
  let pending = 0;
  for (const txn of open.values()) {
    pending += txn.records.length;
    if (txn.first < lastStableOffset) lastStableOffset = txn.first;
  }
  settled.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  const visible = settled.filter((s) => s.offset < lastStableOffset).map((s) => s.record);
  return {
    visible,
    aborted,
    pending,
    beyondStable: settled.length - visible.length,
    lastStableOffset,
  };
}
