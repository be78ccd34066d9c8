/**
 * The watchdog flags what a stage that looks healthy can still be doing wrong:
 * - a partition that has lag but whose committed offset has not moved for several commit intervals (stalled);
 * - a transaction of this instance open longer than half the transaction timeout (the broker aborts it at the
 *   full timeout, and everything it held is processed again).
 * The checks are pure functions of facts with the time passed in; the Watchdog class keeps those facts from the
 * engine's events and reports each finding when it is raised and when it clears.
 */
import type { StageEvents } from './events.js';

/** A partition with lag and no progress for this many commit intervals is stalled... */
export const STALL_COMMIT_INTERVALS = 20;
/** ...but never sooner than this: one slow commit or a retry's back-off is not a stall. */
export const MIN_STALL_MS = 5000;

export interface WatchdogOptions {
  stallAfterMs: number;
  transactionWarnAfterMs: number;
}

export function watchdogOptions(commitIntervalMs: number, transactionTimeoutMs: number): WatchdogOptions {
  return {
    stallAfterMs: Math.max(STALL_COMMIT_INTERVALS * commitIntervalMs, MIN_STALL_MS),
    transactionWarnAfterMs: Math.floor(transactionTimeoutMs / 2),
  };
}

export type WatchdogFinding =
  | { kind: 'stalled'; partition: number; lagRecords: number; noProgressForMs: number; limitMs: number }
  | { kind: 'long-transaction'; partition: number; openForMs: number; limitMs: number };

export interface PartitionProgress {
  partition: number;
  /** When the committed offset last moved, lag was last seen at 0, or the partition was assigned or restored. */
  lastProgressAtMs: number;
  /** When a lag lookup first saw lag since that progress; undefined if none has. */
  lagSeenAtMs?: number | undefined;
}

export interface LagObservation {
  /** When the lookup was made; two checks on one cached lookup are one observation. */
  atMs: number;
  /** Lag in records, by partition; a partition missing here has no verdict this time. */
  records: ReadonlyMap<number, number>;
}

/** Partitions quiet for longer than the limit: only these need a lag lookup. */
export function stallCandidates(
  partitions: readonly PartitionProgress[],
  nowMs: number,
  stallAfterMs: number,
): number[] {
  return partitions.filter((p) => nowMs - p.lastProgressAtMs > stallAfterMs).map((p) => p.partition);
}

/**
 * Stalled: no progress for longer than the limit, and lag seen by two lookups in a row (the earlier one since the
 * last progress). One lookup is not enough: a record that reaches a long-idle partition just before a lookup
 * shows as lag for the moment before its commit, and that is no stall.
 */
export function findStalls(
  partitions: readonly PartitionProgress[],
  lag: LagObservation,
  nowMs: number,
  stallAfterMs: number,
): WatchdogFinding[] {
  const findings: WatchdogFinding[] = [];
  for (const { partition, lastProgressAtMs, lagSeenAtMs } of partitions) {
    const lagRecords = lag.records.get(partition) ?? 0;
    const noProgressForMs = nowMs - lastProgressAtMs;
    if (
      noProgressForMs > stallAfterMs &&
      lagRecords > 0 &&
      lagSeenAtMs !== undefined &&
      lagSeenAtMs < lag.atMs
    )
      findings.push({ kind: 'stalled', partition, lagRecords, noProgressForMs, limitMs: stallAfterMs });
  }
  return findings;
}

export function findLongTransactions(
  open: ReadonlyMap<number, number>,
  nowMs: number,
  warnAfterMs: number,
): WatchdogFinding[] {
  const findings: WatchdogFinding[] = [];
  for (const [partition, openedAtMs] of open) {
    const openForMs = nowMs - openedAtMs;
    if (openForMs > warnAfterMs)
      findings.push({ kind: 'long-transaction', partition, openForMs, limitMs: warnAfterMs });
  }
  return findings;
}

export function describeFinding(finding: WatchdogFinding): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  switch (finding.kind) {
    case 'stalled':
      return `partition ${finding.partition} stalled: ${finding.lagRecords} records of lag and no progress for ${seconds(finding.noProgressForMs)} (limit ${seconds(finding.limitMs)})`;
    case 'long-transaction':
      return `partition ${finding.partition}: own transaction open for ${seconds(finding.openForMs)}, past half the transaction timeout (${seconds(finding.limitMs)})`;
  }
}

const keyOf = (finding: WatchdogFinding) => `${finding.kind}/${finding.partition}`;

export interface WatchdogListener {
  raised(finding: WatchdogFinding): void;
  cleared(finding: WatchdogFinding): void;
}

/**
 * Keeps the facts from the engine's events and runs the checks on demand. A partition's stall verdict changes only
 * when a lag lookup covers it; between lookups the last verdict stands (while the partition stays quiet).
 */
export class Watchdog {
  private readonly partitions = new Map<number, PartitionProgress>();
  private readonly committedOffsets = new Map<number, bigint>();
  private readonly restoring = new Set<number>();
  private readonly openTransactions = new Map<number, number>();
  private current = new Map<string, WatchdogFinding>();

  constructor(
    readonly options: WatchdogOptions,
    private readonly now: () => number,
    private readonly listener: WatchdogListener,
  ) {}

  /** Keeps the facts up to date from the engine's events; returns the unsubscribe function. */
  subscribe(events: StageEvents): () => void {
    const offs = [
      events.on('stage.assigned', ({ partitions }) => {
        this.assigned(partitions);
      }),
      events.on('task.restore_progressed', ({ partition }) => this.restoring.add(partition)),
      events.on('task.restored', ({ partition }) => {
        this.restoring.delete(partition);
        this.progressed(partition);
      }),
      events.on('task.committed', ({ partition, endOffset }) => {
        const before = this.committedOffsets.get(partition);
        this.committedOffsets.set(partition, endOffset);
        if (before === undefined || endOffset > before) this.progressed(partition);
      }),
      events.on('task.closed', ({ partition }) => {
        this.restoring.delete(partition);
        this.openTransactions.delete(partition);
      }),
      // A restore that failed is over; the retry reports its own progress.
      events.on('task.aborted', ({ partition }) => this.restoring.delete(partition)),
      events.on('transaction.began', ({ partition, atMs }) => this.openTransactions.set(partition, atMs)),
      events.on('transaction.ended', ({ partition }) => this.openTransactions.delete(partition)),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** A new assignment: partitions kept keep their history; new ones start now. */
  assigned(partitions: readonly number[]): void {
    const owned = new Set(partitions);
    for (const partition of [...this.partitions.keys()]) {
      if (owned.has(partition)) continue;
      this.partitions.delete(partition);
      this.committedOffsets.delete(partition);
      this.restoring.delete(partition);
      this.openTransactions.delete(partition);
    }
    for (const partition of partitions)
      if (!this.partitions.has(partition))
        this.partitions.set(partition, { partition, lastProgressAtMs: this.now() });
  }

  /** Progress on an assigned partition (a partition no longer assigned is ignored). */
  progressed(partition: number): void {
    const entry = this.partitions.get(partition);
    if (entry) this.partitions.set(partition, { partition, lastProgressAtMs: this.now() });
  }

  /** Age of each open transaction of this instance, by partition. */
  openTransactionAges(): Map<number, number> {
    const nowMs = this.now();
    return new Map([...this.openTransactions].map(([partition, at]) => [partition, nowMs - at]));
  }

  /** Partitions whose stall verdict needs their lag: quiet for longer than the limit, and not restoring. */
  stallCandidates(): number[] {
    return stallCandidates(this.watched(), this.now(), this.options.stallAfterMs);
  }

  /** Runs both checks; `lag` decides the stall verdicts of the partitions it covers. */
  check(lag?: LagObservation): WatchdogFinding[] {
    const nowMs = this.now();
    const next = new Map<string, WatchdogFinding>();
    for (const finding of findLongTransactions(
      this.openTransactions,
      nowMs,
      this.options.transactionWarnAfterMs,
    ))
      next.set(keyOf(finding), finding);
    const watched = this.watched();
    const decided = lag ? watched.filter((p) => lag.records.has(p.partition)) : [];
    if (lag) {
      for (const finding of findStalls(decided, lag, nowMs, this.options.stallAfterMs))
        next.set(keyOf(finding), finding);
      this.noteLag(decided, lag);
    }
    const decidedSet = new Set(decided.map((p) => p.partition));
    const stillQuiet = new Set(stallCandidates(watched, nowMs, this.options.stallAfterMs));
    for (const [key, finding] of this.current) {
      if (finding.kind !== 'stalled' || decidedSet.has(finding.partition)) continue;
      if (!stillQuiet.has(finding.partition)) continue;
      const lastProgressAtMs = this.partitions.get(finding.partition)?.lastProgressAtMs ?? nowMs;
      next.set(key, { ...finding, noProgressForMs: nowMs - lastProgressAtMs });
    }
    for (const [key, finding] of next) if (!this.current.has(key)) this.listener.raised(finding);
    for (const [key, finding] of this.current) if (!next.has(key)) this.listener.cleared(finding);
    this.current = next;
    return [...next.values()];
  }

  /** The findings of the last check. */
  get findings(): WatchdogFinding[] {
    return [...this.current.values()];
  }

  /**
   * Lag at 0 is progress (nothing is waiting); lag seen for the first time since the last progress is remembered.
   * A lookup older than the last progress says nothing new.
   */
  private noteLag(decided: readonly PartitionProgress[], lag: LagObservation): void {
    for (const entry of decided) {
      if (lag.atMs < entry.lastProgressAtMs) continue;
      const records = lag.records.get(entry.partition) ?? 0;
      if (records === 0)
        this.partitions.set(entry.partition, { partition: entry.partition, lastProgressAtMs: lag.atMs });
      else if (entry.lagSeenAtMs === undefined)
        this.partitions.set(entry.partition, { ...entry, lagSeenAtMs: lag.atMs });
    }
  }

  private watched(): PartitionProgress[] {
    return [...this.partitions.values()].filter((p) => !this.restoring.has(p.partition));
  }
}
