/**
 * Which changelog record a task's in-memory state ends with, so that re-initializing the same task (a failed
 * commit, a fenced producer, a broker lost) keeps that state and reads only the changelog after it, instead of
 * emptying the store and restoring in full (design §5). The state is kept only as a checkpoint on disk is: its
 * fingerprint record must still be at its offset in the changelog, and be no older than a checkpoint may be.
 *
 * It is exactly the changelog up to that record because the store changes only two ways: a restore (which ends
 * with the last record it read) and a transaction applied after its commit (which ends with the last changelog
 * record the broker acknowledged for it). A failed transaction is dropped, so the state stays at the last commit;
 * whatever was committed after it, by this task's transaction whose outcome was unknown or by another owner, is in
 * the tail the restore reads over it.
 */
import { fingerprintOf, lastCommittedRecord, positioned, type Fingerprint } from './state-checkpoint.js';
import type { Acknowledged, ChangelogRecord, OutgoingRecord } from './ports.js';

export class RetainedState {
  private last: { fingerprint: Fingerprint; atMs: number } | undefined;

  constructor(
    private readonly now: () => number,
    /** How old the fingerprint may be: a tombstone after it must not have been compacted away yet. */
    private readonly maxAgeMs: number,
  ) {}

  /** The store now holds the changelog up to `last`, the last record a restore read (undefined: nothing known). */
  restored(last: ChangelogRecord | undefined): void {
    const read = positioned(last);
    this.last = read === undefined ? undefined : { fingerprint: fingerprintOf(read), atMs: this.now() };
  }

  /** A transaction's state was applied after its commit; one that wrote no changelog record changed nothing. */
  committed(changelog: readonly OutgoingRecord[], acknowledged: Acknowledged | undefined): void {
    if (changelog.length === 0) return;
    const record = lastCommittedRecord(changelog, acknowledged);
    this.last = record === undefined ? undefined : { fingerprint: fingerprintOf(record), atMs: this.now() };
  }

  /**
   * Taken once per initialization, before the store can change: the fingerprint to read the tail from, or
   * undefined (restore in full). Until the restore ends, nothing is retained.
   */
  take(): { fingerprint: Fingerprint } | { refused: string } | undefined {
    const last = this.last;
    this.last = undefined;
    if (last === undefined) return undefined;
    const ageMs = this.now() - last.atMs;
    if (ageMs > this.maxAgeMs) return { refused: `the state in memory was last confirmed ${ageMs} ms ago` };
    return { fingerprint: last.fingerprint };
  }
}
