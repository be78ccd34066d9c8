import type { Buffer } from 'node:buffer';

import type { WindowAggregate } from '../domain/aggregate.js';
import type { WindowTable } from '../domain/process-record.js';
import { isWindowClosed, type WindowSpec } from '../domain/window.js';
import type { ChangelogEntry, StateStore, StoreWrites } from '../engine/state-store.js';
import {
  decodeChangelogEntry,
  encodeAggregate,
  encodeStreamTime,
  encodeStreamTimeKey,
  encodeWindowKey,
} from './changelog-codec.js';

export type { ChangelogEntry };

/**
 * Windows grouped by start: all windows sharing a start close together, and the starts still open are few
 * (stream time minus size and grace bounds them), so finding closed windows never scans every key.
 */
type WindowsByStart = Map<number, Map<string, WindowAggregate>>;

function compareStrings(a: string, b: string): number {
  // Code-unit order, not localeCompare: output order must not depend on the machine's locale.
  return a < b ? -1 : a > b ? 1 : 0;
}

const NOTHING_CLOSED: readonly WindowAggregate[] = Object.freeze([]);

function sortedNumbers(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

interface TransactionChanges {
  closedStarts: ReadonlySet<number>;
  puts: WindowsByStart;
  streamTimeMs: number | null;
}

/** What a transaction reads from and reports back to; keeps the store's merge logic out of its public API. */
interface TransactionBase {
  windows: ReadonlyMap<number, ReadonlyMap<string, WindowAggregate>>;
  streamTimeMs: number | null;
  onApply(changes: TransactionChanges): void;
  onDiscard(): void;
}

/** The committed state of one task: "changelog as of the last commit". Changed only by restore and apply. */
export class WindowStore implements StateStore<StoreTransaction> {
  private readonly windows: WindowsByStart = new Map();
  private committedStreamTimeMs: number | null = null;
  private openTransaction: StoreTransaction | null = null;

  get streamTimeMs(): number | null {
    return this.committedStreamTimeMs;
  }

  /** The committed windows: the engine's view of the store's size. */
  get size(): number {
    return this.windowCount;
  }

  get windowCount(): number {
    let count = 0;
    for (const hosts of this.windows.values()) count += hosts.size;
    return count;
  }

  /** Whether stream time `streamTimeMs` would close at least one committed window. */
  hasWindowClosedBy(streamTimeMs: number, spec: WindowSpec): boolean {
    for (const [start, hosts] of this.windows) {
      if (hosts.size > 0 && isWindowClosed(start, spec, streamTimeMs)) return true;
    }
    return false;
  }

  /** Committed windows ordered by windowStart then host; for inspection and tests, not the hot path. */
  snapshot(): WindowAggregate[] {
    const out: WindowAggregate[] = [];
    for (const start of sortedNumbers(this.windows.keys())) {
      const hosts = this.windows.get(start);
      if (hosts === undefined) continue;
      for (const host of [...hosts.keys()].sort(compareStrings)) {
        const agg = hosts.get(host);
        if (agg !== undefined) out.push(agg);
      }
    }
    return out;
  }

  exportChangelog(): ChangelogEntry[] {
    const entries = this.snapshot().map((agg) => ({
      key: encodeWindowKey(agg.host, agg.windowStart),
      value: encodeAggregate(agg),
    }));
    if (this.committedStreamTimeMs !== null)
      entries.push({ key: encodeStreamTimeKey(), value: encodeStreamTime(this.committedStreamTimeMs) });
    return entries;
  }

  /** Apply one changelog record during restore (latest wins; null value = delete). */
  restore(key: Buffer, value: Buffer | null): void {
    this.assertNoTransaction('restore');
    const change = decodeChangelogEntry(key, value);
    if (change.kind === 'stream-time') {
      this.committedStreamTimeMs = change.streamTimeMs;
    } else if (change.aggregate === null) {
      this.deleteWindow(change.host, change.windowStart);
    } else {
      this.setWindow(change.aggregate);
    }
  }

  clear(): void {
    this.assertNoTransaction('clear');
    this.windows.clear();
    this.committedStreamTimeMs = null;
  }

  /** At most one open transaction; opening a second throws. */
  begin(): StoreTransaction {
    this.assertNoTransaction('begin');
    const txn = new StoreTransaction({
      windows: this.windows,
      streamTimeMs: this.committedStreamTimeMs,
      onApply: (changes) => {
        this.merge(changes);
        this.openTransaction = null;
      },
      onDiscard: () => {
        this.openTransaction = null;
      },
    });
    this.openTransaction = txn;
    return txn;
  }

  private merge(changes: TransactionChanges): void {
    // Closed starts go first: a window re-created at a closed start after it closed is a put and must survive.
    for (const start of changes.closedStarts) this.windows.delete(start);
    for (const hosts of changes.puts.values()) for (const agg of hosts.values()) this.setWindow(agg);
    this.committedStreamTimeMs = changes.streamTimeMs;
  }

  private setWindow(agg: WindowAggregate): void {
    let hosts = this.windows.get(agg.windowStart);
    if (hosts === undefined) {
      hosts = new Map();
      this.windows.set(agg.windowStart, hosts);
    }
    hosts.set(agg.host, agg);
  }

  private deleteWindow(host: string, windowStart: number): void {
    const hosts = this.windows.get(windowStart);
    if (hosts === undefined) return;
    hosts.delete(host);
    if (hosts.size === 0) this.windows.delete(windowStart);
  }

  private assertNoTransaction(action: string): void {
    if (this.openTransaction !== null) {
      throw new Error(`cannot ${action} the window store: a transaction is open (apply or discard it first)`);
    }
  }
}

/**
 * The writes of one Kafka transaction, layered over the committed store (copy-on-write: committed maps and
 * aggregates are only read). Closing is always per window start, so a closed start hides every committed
 * window at that start; windows written in this transaction live in `puts`.
 */
export class StoreTransaction implements WindowTable, StoreWrites {
  private readonly puts: WindowsByStart = new Map();
  /** Starts whose committed windows this transaction closed. */
  private readonly closedStarts = new Set<number>();
  /** Every (start, host) this transaction closed, committed or its own: each needs a tombstone. */
  private readonly tombstones = new Map<number, Set<string>>();
  private readonly committed: TransactionBase['windows'];
  private readonly committedStreamTimeMs: number | null;
  private currentStreamTimeMs: number | null;
  private isOpen = true;

  /** Use WindowStore.begin(), which enforces one open transaction per store. */
  constructor(private readonly base: TransactionBase) {
    this.committed = base.windows;
    this.committedStreamTimeMs = base.streamTimeMs;
    this.currentStreamTimeMs = base.streamTimeMs;
  }

  streamTimeMs(): number | null {
    this.assertOpen();
    return this.currentStreamTimeMs;
  }

  get(host: string, windowStart: number): WindowAggregate | undefined {
    this.assertOpen();
    const own = this.puts.get(windowStart)?.get(host);
    if (own !== undefined || this.closedStarts.has(windowStart)) return own;
    return this.committed.get(windowStart)?.get(host);
  }

  getOwn(host: string, windowStart: number): WindowAggregate | undefined {
    this.assertOpen();
    return this.puts.get(windowStart)?.get(host);
  }

  put(agg: WindowAggregate): void {
    this.assertOpen();
    let hosts = this.puts.get(agg.windowStart);
    if (hosts === undefined) {
      hosts = new Map();
      this.puts.set(agg.windowStart, hosts);
    }
    hosts.set(agg.host, agg);
  }

  advanceStreamTime(eventTimeMs: number): void {
    this.assertOpen();
    if (this.currentStreamTimeMs === null || eventTimeMs > this.currentStreamTimeMs) {
      this.currentStreamTimeMs = eventTimeMs;
    }
  }

  /** Removes and returns every window with closeTime <= streamTime, ordered by windowStart then host. */
  takeClosedWindows(spec: WindowSpec): readonly WindowAggregate[] {
    this.assertOpen();
    // Called for every record, and most records close nothing: answer those without building and sorting sets.
    if (!this.closesAny(spec)) return NOTHING_CLOSED;
    const closed: WindowAggregate[] = [];
    for (const start of sortedNumbers(this.liveStarts())) {
      if (!isWindowClosed(start, spec, this.currentStreamTimeMs)) continue;
      const hosts = this.visibleAt(start);
      for (const host of [...hosts.keys()].sort(compareStrings)) {
        const agg = hosts.get(host);
        if (agg !== undefined) closed.push(agg);
      }
      this.markClosed(start, hosts.keys());
    }
    return closed;
  }

  hasPendingWrites(): boolean {
    this.assertOpen();
    return (
      this.puts.size > 0 ||
      this.tombstones.size > 0 ||
      this.currentStreamTimeMs !== this.committedStreamTimeMs
    );
  }

  /**
   * Changelog entries for every key changed since begin(): the latest value only, a tombstone for each
   * closed window the changelog holds, then the stream time when it changed. Ordered by windowStart then host.
   * A window created and closed in this transaction gets no tombstone: the committed store is the changelog as
   * of the last commit (restore and apply are its only writers), so a window absent from it has no live value
   * there to delete. Replaying a backlog, when one commit spans minutes of event time, most windows are such.
   */
  prepare(): ChangelogEntry[] {
    this.assertOpen();
    const entries: ChangelogEntry[] = [];
    const starts = new Set([...this.tombstones.keys(), ...this.puts.keys()]);
    for (const start of sortedNumbers(starts)) {
      const own = this.puts.get(start);
      const committed = this.committed.get(start);
      const hosts = new Set(own?.keys());
      for (const host of this.tombstones.get(start) ?? []) if (committed?.has(host)) hosts.add(host);
      for (const host of [...hosts].sort(compareStrings)) {
        const agg = own?.get(host);
        entries.push({
          key: encodeWindowKey(host, start),
          value: agg === undefined ? null : encodeAggregate(agg),
        });
      }
    }
    if (this.currentStreamTimeMs !== null && this.currentStreamTimeMs !== this.committedStreamTimeMs) {
      entries.push({ key: encodeStreamTimeKey(), value: encodeStreamTime(this.currentStreamTimeMs) });
    }
    return entries;
  }

  /** After the Kafka commit succeeded: merge into the store; the transaction is closed. */
  apply(): void {
    this.assertOpen();
    this.isOpen = false;
    this.base.onApply({
      closedStarts: this.closedStarts,
      puts: this.puts,
      streamTimeMs: this.currentStreamTimeMs,
    });
  }

  /** After an abort: drop everything; the store is as before begin(). */
  discard(): void {
    this.assertOpen();
    this.isOpen = false;
    this.base.onDiscard();
  }

  /**
   * Whether stream time has passed the close of any live window start (this transaction's, then the committed
   * ones it has not closed), without collecting them. Runs for every record: plain loops, no callback to allocate.
   */
  private closesAny(spec: WindowSpec): boolean {
    const streamTimeMs = this.currentStreamTimeMs;
    if (streamTimeMs === null) return false;
    for (const start of this.puts.keys()) if (isWindowClosed(start, spec, streamTimeMs)) return true;
    for (const start of this.committed.keys()) {
      if (!this.closedStarts.has(start) && isWindowClosed(start, spec, streamTimeMs)) return true;
    }
    return false;
  }

  private liveStarts(): Set<number> {
    const starts = new Set(this.puts.keys());
    for (const start of this.committed.keys()) if (!this.closedStarts.has(start)) starts.add(start);
    return starts;
  }

  /** The windows a reader sees at one start: committed ones unless closed here, overlaid by this transaction's. */
  private visibleAt(start: number): Map<string, WindowAggregate> {
    const hosts = new Map<string, WindowAggregate>();
    if (!this.closedStarts.has(start))
      for (const [host, agg] of this.committed.get(start) ?? []) hosts.set(host, agg);
    for (const [host, agg] of this.puts.get(start) ?? []) hosts.set(host, agg);
    return hosts;
  }

  private markClosed(start: number, hosts: Iterable<string>): void {
    let dead = this.tombstones.get(start);
    if (dead === undefined) {
      dead = new Set();
      this.tombstones.set(start, dead);
    }
    for (const host of hosts) dead.add(host);
    this.closedStarts.add(start);
    this.puts.delete(start);
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new Error('store transaction is closed (applied or discarded); begin a new one');
  }
}
