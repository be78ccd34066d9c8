/**
 * Commit on the interval (design §24): fetched records of one partition wait here for the task's next commit,
 * one transaction for all of them. The task processes records into the range's open transaction as they join
 * when it can, and otherwise keeps them here to be processed at the commit. Nothing here is processed, sent or
 * committed: the task owns the transaction; this only says what it covers and when it is due
 * (COMMIT_INTERVAL_MS since its first batch arrived, or COMMIT_MAX_RECORDS records in it), and keeps the timer
 * that notices an interval elapsing when no batch comes.
 */
import type { InputBatch, InputMessage } from './ports.js';
import type { OpenTransaction } from './record-collector.js';

/** What one commit covers: the records, and the input offset the commit moves the committed offset to. */
export interface PendingRange {
  /** The range's records processed as they joined, always its first ones; undefined: none was. */
  processed: OpenTransaction | undefined;
  /** Processing a joining record failed (its open transaction is discarded): the commit fails with this. */
  failure: { error: unknown } | undefined;
  /** The records kept to be processed at the commit, in offset order, after those in `processed`. */
  readonly messages: InputMessage[];
  /** The offset of the range's first record. */
  firstOffset: bigint | undefined;
  /** How many records the range covers, processed or kept. */
  records: number;
  endOffset: bigint;
  readonly startedAtMs: number;
  /** Its last batch joined whole and ended at the partition's end: no record is known to follow it. */
  atEnd: boolean;
}

export interface PendingTransactionOptions {
  /** 0: every batch is committed on its own, nothing waits here. */
  intervalMs: number;
  /** Read whenever records join: a task's cap grows once its first transaction has committed. */
  maxRecords: () => number;
  now: () => number;
}

export class PendingTransaction {
  private range: PendingRange | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PendingTransactionOptions) {}

  /** Whether transactions span batches at all. */
  get enabled(): boolean {
    return this.options.intervalMs > 0;
  }

  /** The offset of the first waiting record, if any: the crash-loop guard's plan is keyed by it. */
  get firstOffset(): bigint | undefined {
    return this.range?.firstOffset;
  }

  /** Where the waiting records end: later batches start here (kafkajs may hand over a record twice). */
  get endOffset(): bigint | undefined {
    return this.range?.endOffset;
  }

  /** How many records wait. */
  get size(): number {
    return this.range?.records ?? 0;
  }

  /** The range waiting, for the task to process its records into (undefined: none waits). */
  get current(): PendingRange | undefined {
    return this.range;
  }

  get isEmpty(): boolean {
    return this.range === undefined;
  }

  /**
   * Adds `messages[start..]` up to the cap; `committedEnd` is where a new range begins. Returns where the next
   * part starts and the last record taken. Trailing transaction markers belong to the batch's last part, so a
   * commit never stops on one. `keep`: the records are kept for the commit to process; otherwise the caller
   * processes them into the range's open transaction now.
   */
  add(
    batch: InputBatch,
    messages: readonly InputMessage[],
    start: number,
    committedEnd: bigint,
    keep = true,
  ): { next: number; last: InputMessage; range: PendingRange } | undefined {
    const range = (this.range ??= {
      processed: undefined,
      failure: undefined,
      messages: [],
      firstOffset: undefined,
      records: 0,
      endOffset: committedEnd,
      startedAtMs: this.options.now(),
      atEnd: false,
    });
    const room = this.options.maxRecords() - range.records;
    const next = Math.min(messages.length, start + room);
    const last = messages[next - 1];
    if (next <= start || !last) return undefined;
    range.firstOffset ??= messages[start]?.offset;
    range.records += next - start;
    if (keep) {
      for (let i = start; i < next; i += 1) {
        const message = messages[i];
        if (message) range.messages.push(message);
      }
    }
    range.endOffset =
      next >= messages.length && batch.lastOffset >= last.offset ? batch.lastOffset + 1n : last.offset + 1n;
    range.atEnd = next >= messages.length && batch.atEnd === true;
    return { next, last, range };
  }

  /** Skipped transaction markers right after the waiting records join them: one commit covers both. */
  extendTo(endOffset: bigint): void {
    if (this.range && endOffset > this.range.endOffset) this.range.endOffset = endOffset;
  }

  /** Full, its interval has elapsed, or processing one of its records failed: commit (or fail) now. */
  isDue(): boolean {
    const range = this.range;
    if (!range) return false;
    return (
      range.failure !== undefined ||
      range.records >= this.options.maxRecords() ||
      this.options.now() - range.startedAtMs >= this.options.intervalMs
    );
  }

  /** Hands the waiting range to its commit (or drops it): nothing waits afterwards, and no timer runs. */
  take(): PendingRange | undefined {
    const range = this.range;
    this.range = undefined;
    this.cancelTimer();
    return range;
  }

  /**
   * The interval can elapse with no batch to notice it: `onDue` runs then, with the range it is due for (the
   * caller checks that it still waits: a batch may have committed it meanwhile).
   */
  scheduleCommit(onDue: (range: PendingRange) => void): void {
    const range = this.range;
    if (this.timer || !range) return;
    const delayMs = Math.max(0, range.startedAtMs + this.options.intervalMs - this.options.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.range !== range) return;
      if (this.isDue()) onDue(range);
      else this.scheduleCommit(onDue);
    }, delayMs);
    this.timer.unref();
  }

  /** Whether `range` is still the one waiting. */
  holds(range: PendingRange): boolean {
    return this.range === range;
  }

  cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
