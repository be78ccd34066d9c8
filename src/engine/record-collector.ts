/**
 * Turns one chunk of input into everything its transaction will send: the processor's outputs, its dead letters
 * (raw bytes untouched) and its changelog deltas, each partitioned and stamped with the transactional attempt's
 * lineage. Pure computation on a store transaction: nothing here talks to Kafka or decides recovery.
 */
import { RetriableError } from '../errors/errors.js';
import { errorMessage } from '../errors/message.js';
import { MAX_PROCESSING_ATTEMPTS, type AttemptPlan } from './attempt-policy.js';
import { deadLetterHeaders, PROCESSING_FAILED, type DeadLetter, type StageIdentity } from './dead-letter.js';
import type { FaultInjector } from './faults.js';
import { attemptId, lineageHeaders } from './lineage.js';
import type { InputMessage, OutgoingRecord } from './ports.js';
import type { Emitted, StepOutcome, TaskProcessor } from './processor.js';
import type { StoreWrites } from './state-store.js';

export interface TaskTopics {
  input: string;
  output: string;
  dlq: string;
  changelog: string;
  /** Partition count of the DLQ topic; DLQ records go to `source partition mod dlqPartitions`. */
  dlqPartitions: number;
}

export interface CollectorDependencies {
  /** The task incarnation: with the collector's own counter, it makes transactional attempt ids unique. */
  incarnation: string;
  stage: StageIdentity;
  topics: TaskTopics;
  /** The output topic's partition for a record key, as the Java client's default partitioner would pick it. */
  outputPartition: (key: Buffer) => number;
  faults: FaultInjector;
  now: () => number;
}

/** Processing one record threw: the chunk is abandoned and retried; the record is remembered. */
export class RecordProcessingError extends RetriableError {
  constructor(
    readonly offset: bigint,
    cause: unknown,
  ) {
    super(
      'RECORD_PROCESSING_FAILED',
      `processing the record at offset ${offset} failed: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

export interface PreparedTransaction {
  storeTx: StoreWrites;
  /** Sent in this order, each as its own send, so a fault can strike between them. */
  outputs: OutgoingRecord[];
  deadLetters: OutgoingRecord[];
  changelog: OutgoingRecord[];
  endOffset: bigint;
  inputRecords: number;
  /** Output records (rollups, for the metrics rollup): the name the metrics and the log have always used. */
  rollups: number;
  deadLettered: { reason: string; offset: bigint }[];
  /** The transactional attempt: one try of one transaction, named in every record's lineage headers. */
  attemptId: string;
}

/** Steps 2 and 3 of a transaction, as the task sees them: ready to send, failed (to recover), or quarantined. */
export type ProcessedChunk =
  | { readonly outcome: 'prepared'; readonly prepared: PreparedTransaction }
  | { readonly outcome: 'failed'; readonly error: unknown; readonly step: string }
  | { readonly outcome: 'quarantined' };

/**
 * A transaction's records processed so far, into its store transaction: what it will send once sealed. Records
 * join it in offset order, at its commit or, with commit on the interval, as they are fetched (design §24).
 */
export interface OpenTransaction {
  readonly storeTx: StoreWrites;
  readonly rollups: Emitted[];
  readonly deadLetters: { message: InputMessage; poison: DeadLetter }[];
  firstOffset: bigint | undefined;
  lastOffset: bigint | undefined;
  inputRecords: number;
}

export class RecordCollector {
  /** Transactional attempts prepared by this task incarnation. */
  private transactionalAttempts = 0;
  /**
   * Records whose processing threw, by offset, and how often: after MAX_PROCESSING_ATTEMPTS they are
   * dead-lettered. In memory only: a record that kills the whole process is the crash count's business.
   */
  private readonly processingFailures = new Map<bigint, { failures: number; message: string }>();

  constructor(
    private readonly partition: number,
    private readonly deps: CollectorDependencies,
  ) {}

  /**
   * Processes the chunk in a new store transaction (or on in `open`, the transaction's records processed as they
   * were fetched) and builds its records. A processing failure discards the store transaction, is remembered
   * against its record, and is thrown as RecordProcessingError. `plan` is the first record's of the transaction.
   */
  collect(
    processor: TaskProcessor,
    chunk: readonly InputMessage[],
    endOffset: bigint,
    plan: AttemptPlan,
    advanceStreamTimeTo?: number,
    open: OpenTransaction = this.open(processor),
  ): PreparedTransaction {
    this.add(processor, open, chunk, 0, chunk.length, open.inputRecords === 0 ? plan : undefined);
    try {
      return this.seal(processor, open, endOffset, advanceStreamTimeTo);
    } catch (error) {
      open.storeTx.discard();
      throw error;
    }
  }

  /** A transaction's store transaction, before any record of it is processed. */
  open(processor: TaskProcessor): OpenTransaction {
    return {
      storeTx: processor.begin(),
      rollups: [],
      deadLetters: [],
      firstOffset: undefined,
      lastOffset: undefined,
      inputRecords: 0,
    };
  }

  /**
   * Processes `messages[from..to)` into the open transaction. A failure discards its store transaction (it must
   * not stay open on the store), is remembered against its record when it is a RecordProcessingError, and is
   * thrown: the whole transaction is then retried.
   */
  add(
    processor: TaskProcessor,
    open: OpenTransaction,
    messages: readonly InputMessage[],
    from: number,
    to: number,
    plan?: AttemptPlan,
  ): void {
    try {
      for (let i = from; i < to; i += 1) {
        const message = messages[i];
        if (!message) continue;
        const outcome = this.processOne(processor, message, i === from ? plan : undefined);
        if (outcome.kind === 'dead-letter') open.deadLetters.push({ message, poison: outcome.poison });
        // Nearly every record emits nothing: a for-of over nothing still made an iterator per record.
        else if (outcome.emitted.length > 0)
          for (const emitted of outcome.emitted) open.rollups.push(emitted);
        open.firstOffset ??= message.offset;
        open.lastOffset = message.offset;
        open.inputRecords += 1;
      }
    } catch (error) {
      open.storeTx.discard();
      if (error instanceof RecordProcessingError) {
        const seen = this.processingFailures.get(error.offset);
        this.processingFailures.set(error.offset, {
          failures: (seen?.failures ?? 0) + 1,
          message: error.message,
        });
      }
      throw error;
    }
  }

  /** Everything below `endOffset` is committed: its processing failures are history. */
  committedUpTo(endOffset: bigint): void {
    for (const offset of this.processingFailures.keys())
      if (offset < endOffset) this.processingFailures.delete(offset);
  }

  private seal(
    processor: TaskProcessor,
    open: OpenTransaction,
    endOffset: bigint,
    advanceStreamTimeTo: number | undefined,
  ): PreparedTransaction {
    const { topics } = this.deps;
    const { storeTx, rollups, deadLetters } = open;
    if (advanceStreamTimeTo !== undefined) {
      storeTx.advanceStreamTime(advanceStreamTimeTo);
      rollups.push(...processor.punctuate());
    }
    const changelog = storeTx.prepare();
    this.transactionalAttempts += 1;
    // Unique across the tasks of one instance too: the task incarnation, partition, then this counter.
    const attempt = attemptId(`${this.deps.incarnation}/p${this.partition}`, this.transactionalAttempts);
    const first = open.firstOffset ?? endOffset;
    const last = open.lastOffset ?? endOffset - 1n;
    const lineage = lineageHeaders({
      sourceTopic: topics.input,
      sourcePartition: this.partition,
      firstOffset: first.toString(),
      lastOffset: last.toString(),
      attemptId: attempt,
      recordCount: rollups.length + deadLetters.length + changelog.length,
    });
    const outputs = rollups.map((emitted): OutgoingRecord => ({
      topic: topics.output,
      partition: this.deps.outputPartition(emitted.key),
      key: emitted.key,
      value: emitted.value,
      // The lineage wins a name clash: an auditor must be able to trust it.
      headers: emitted.headers === undefined ? lineage : { ...emitted.headers, ...lineage },
    }));
    const failedAt = this.deps.now();
    const deadLetterRecords = deadLetters.map(({ message, poison }): OutgoingRecord => {
      const source = {
        topic: topics.input,
        partition: this.partition,
        offset: message.offset.toString(),
        timestampMs: message.timestampMs,
      };
      const headers = deadLetterHeaders(source, poison, failedAt, this.deps.stage, message.headers);
      return {
        topic: topics.dlq,
        partition: this.partition % topics.dlqPartitions,
        key: message.key,
        value: message.value,
        headers: { ...headers, ...lineage },
      };
    });
    const changelogRecords = changelog.map((entry): OutgoingRecord => ({
      topic: topics.changelog,
      partition: this.partition,
      key: entry.key,
      value: entry.value,
      headers: lineage,
    }));
    return {
      storeTx,
      outputs,
      deadLetters: deadLetterRecords,
      changelog: changelogRecords,
      endOffset,
      inputRecords: open.inputRecords,
      rollups: rollups.length,
      deadLettered: deadLetters.map(({ message, poison }) => ({
        reason: poison.reason,
        offset: message.offset,
      })),
      attemptId: attempt,
    };
  }

  /**
   * One record through the processor. A record that already made processing throw, or crashed the process
   * when processed alone, MAX_PROCESSING_ATTEMPTS times is dead-lettered without another try: a deterministic
   * failure must not stop the partition for good.
   */
  private processOne(
    processor: TaskProcessor,
    message: InputMessage,
    plan: AttemptPlan | undefined,
  ): StepOutcome {
    if (plan?.mode === 'dead-letter') {
      return {
        kind: 'dead-letter',
        poison: {
          reason: PROCESSING_FAILED,
          message: `processing this record crashed the process ${plan.crashes} times (each time processed alone, one record per transaction)`,
        },
      };
    }
    // Hashing a bigint per record costs more than the size check when, as nearly always, nothing has failed.
    const failed =
      this.processingFailures.size === 0 ? undefined : this.processingFailures.get(message.offset);
    if (failed && failed.failures >= MAX_PROCESSING_ATTEMPTS) {
      return {
        kind: 'dead-letter',
        poison: { reason: PROCESSING_FAILED, message: `${failed.failures} attempts: ${failed.message}` },
      };
    }
    try {
      this.deps.faults.hitSync('process-record', this.partition, message.offset);
      // The fetched message itself, no copy: it already has the processor's shape (a spread's clone once cost
      // about 1 µs per record, then a copy of named fields 82 bytes of garbage).
      return processor.process(message);
    } catch (error) {
      throw new RecordProcessingError(message.offset, error);
    }
  }
}
