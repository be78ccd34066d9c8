/**
 * One task per assigned input partition (design §2). A task owns its transactional producer, its window state,
 * its changelog partition (same number) and its stream time, and it is the only owner of its transactions'
 * lifecycle: `commitChunk` reads as the numbered steps of one transaction.
 *
 * Everything a task does runs through `serially`, so a batch, an offsets-only commit and a close never overlap.
 */
import type { Logger } from 'pino';
import { deadLetterHeaders, type Poison, type StageIdentity } from '../domain/dead-letter.js';
import { attemptId, lineageHeaders } from '../domain/lineage.js';
import type { HostInfo, MetricRollup } from '../domain/metric.js';
import {
  closeWindows,
  processRecord,
  type DecodedInput,
  type RecordOutcome,
} from '../domain/process-record.js';
import type { WindowSpec } from '../domain/window.js';
import type { BrokenVariant } from '../config/config.js';
import { classify } from '../errors/classify.js';
import { RetriableError, StageError, type ErrorKind } from '../errors/errors.js';
import { WindowStore, type StoreTransaction } from '../state/window-store.js';
import { AttemptGuard } from './attempt-guard.js';
import { MAX_PROCESSING_ATTEMPTS, type AttemptPlan, type OnProcessCrash } from './attempt-policy.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { StageEvents } from '../observability/events.js';
import type { FaultInjector, FaultPoint } from './faults.js';
import type {
  AttemptJournalPort,
  BatchControl,
  InputBatch,
  InputMessage,
  OutgoingRecord,
  PartitionControl,
  ProducerPort,
  TaskKafkaPort,
  TransactionPort,
} from './ports.js';
import { decide } from './retry-policy.js';
import { errorMessage } from '../errors/message.js';
import type { IsolationGate } from './isolation-gate.js';

export interface TaskTopics {
  input: string;
  output: string;
  dlq: string;
  changelog: string;
  /** Partition count of the DLQ topic; DLQ records go to `source partition mod dlqPartitions`. */
  dlqPartitions: number;
}

export interface RecordDecoder {
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  decode(value: Buffer | null): DecodedInput;
}

export interface TaskDependencies {
  groupId: string;
  instanceId: string;
  stage: StageIdentity;
  topics: TaskTopics;
  windows: WindowSpec;
  maxRecordsPerTransaction: number;
  retry: { initialBackoffMs: number; maxBackoffMs: number };
  breaker: { threshold: number; probeIntervalMs: number };
  kafka: TaskKafkaPort;
  /** The processing-attempts journal: how a record that crashes the process is found and given up on. */
  journal: AttemptJournalPort;
  /** What becomes of a record that crashed the process each time it was processed alone; default quarantine. */
  onProcessCrash?: OnProcessCrash | undefined;
  consumer: PartitionControl;
  decoder: RecordDecoder;
  encodeRollup: (rollup: MetricRollup) => Buffer;
  /** The output topic's partition for a rollup key, as the Java client's default partitioner would pick it. */
  outputPartition: (key: Buffer) => number;
  lookupHost: (host: string) => HostInfo | undefined;
  events: StageEvents;
  faults: FaultInjector;
  logger: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** 0: off. Otherwise a task idle this long (wall clock) advances its stream time to close its last windows. */
  idleFlushMs: number;
  /**
   * How long a restore waits for the changelog partition's open transactions (last stable offset below the high
   * watermark) to end before it gives up on this attempt. Default: RESTORE_STABLE_WAIT_MS's.
   */
  restoreStableWaitMs?: number;
  /** A failure found outside a batch (a probe, an idle flush) that has no recovery: the stage must stop. */
  onFatal: (error: unknown) => void;
  /** Test only (EOS_ROLLUP_BROKEN): a deliberately broken variant, for the auditor's negative controls. */
  broken?: BrokenVariant | undefined;
  /** Shared by the tasks of one process: no record is processed while another task's isolated record stands. */
  isolationGate: IsolationGate;
  /**
   * Commits whose outcome is unknown, by partition, shared by the tasks of one instance: a task whose commit
   * failed is often replaced (its session timed out meanwhile) before it re-initializes; its successor settles.
   */
  unsettledCommits: Map<number, UnsettledCommit>;
}

/** A commit that failed after EndTxn may have been sent: it may have committed or not. */
export interface UnsettledCommit {
  attemptId: string;
  fromOffset: bigint;
  endOffset: bigint;
}

type TaskState = 'new' | 'running' | 'closed';

export { MAX_PROCESSING_ATTEMPTS };

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

/** Thrown out of a task when its failure has no recovery: the stage stops and exits non-zero. */
export class TaskFailedError extends StageError {
  constructor(partition: number, cause: unknown) {
    const message = errorMessage(cause);
    super('INVARIANT_VIOLATED', `task for partition ${partition} failed: ${message}`, { cause });
  }
}

type ProcessedChunk =
  | { readonly outcome: 'prepared'; readonly prepared: PreparedTransaction }
  | { readonly outcome: 'failed'; readonly error: unknown; readonly step: string }
  | { readonly outcome: 'quarantined' };

interface PreparedTransaction {
  storeTx: StoreTransaction;
  /** Sent in this order, each as its own send, so a fault can strike between them. */
  outputs: OutgoingRecord[];
  deadLetters: OutgoingRecord[];
  changelog: OutgoingRecord[];
  endOffset: bigint;
  inputRecords: number;
  rollups: number;
  deadLettered: { reason: Poison['reason']; offset: bigint }[];
  attemptId: string;
}

/** RESTORE_STABLE_WAIT_MS's default; tasks built without the setting (engine tests) use it too. */
export const DEFAULT_RESTORE_STABLE_WAIT_MS = 60_000;

export class PartitionTask {
  private state: TaskState = 'new';
  /** Set the moment close() is called, before its turn in the queue, so retry loops stop at once. */
  private closing = false;
  private producer: ProducerPort | undefined;
  private readonly store = new WindowStore();
  /** Next input offset to process: equals the committed offset plus nothing, after every commit. */
  private nextOffset = 0n;
  private attempts = 0;
  private consecutiveFailures = 0;
  /** Records whose processing threw, by offset: after MAX_PROCESSING_ATTEMPTS they are dead-lettered. In memory: a record that kills the whole process is counted by the processing-attempts journal (AttemptGuard). */
  private readonly processingFailures = new Map<bigint, { attempts: number; message: string }>();
  private readonly breaker: CircuitBreaker;
  private readonly guard: AttemptGuard;
  private queue: Promise<unknown> = Promise.resolve();
  private probeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Wall-clock time of the last committed record, and the stream time it left: the idle flush's anchor. */
  private lastRecordAtMs = 0;
  private streamTimeAtLastRecord: number | null = null;
  /** An idle flush is being held back because the task has not consumed up to the last stable offset. */
  private idleFlushHeld = false;
  private readonly log: Logger;
  /** The offset of the record that quarantined this partition: nothing more is processed or committed. */
  private quarantinedAt: bigint | undefined;

  constructor(
    readonly partition: number,
    private readonly deps: TaskDependencies,
  ) {
    this.breaker = new CircuitBreaker(deps.breaker);
    this.log = deps.logger.child({
      taskId: `${deps.topics.input}-${partition}`,
      topic: deps.topics.input,
      partition,
    });
    this.guard = new AttemptGuard(deps.journal, partition, this.log, {
      owner: deps.instanceId,
      onCrash: deps.onProcessCrash ?? 'quarantine',
      skipRelease: deps.broken === 'no-attempt-release',
    });
  }

  get transactionalId(): string {
    if (this.deps.broken === 'shared-transactional-id')
      return `${this.deps.groupId}-${this.deps.topics.input}-shared`;
    if (this.deps.broken === 'instance-transactional-id') {
      // Negative control: an id the next owner of the partition does not share, so it cannot fence this one.
      return `${this.deps.groupId}-${this.deps.instanceId}-${this.partition}`;
    }
    return `${this.deps.groupId}-${this.deps.topics.input}-${this.partition}`;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  get windowCount(): number {
    return this.store.windowCount;
  }

  /**
   * Runs the assignment steps now, not at the first batch: state is restored (and idle windows can close) even
   * when no new record arrives. A batch that arrives meanwhile waits, then is filtered to the settled offset.
   */
  start(): Promise<void> {
    return this.serially(async () => {
      // An open breaker re-initializes through its probe, at the probe's pace.
      if (this.state === 'new' && this.breaker.state !== 'open') await this.initializeWithRetry();
    });
  }

  /** Processes one fetched batch; returns once every chunk is committed, or after a failure was handled. */
  handleBatch(batch: InputBatch, control: BatchControl): Promise<void> {
    return this.serially(async () => {
      if (this.closing || this.state === 'closed' || this.breaker.state === 'open') return;
      if (this.quarantinedAt !== undefined) return;
      if (this.state === 'new') {
        // The batch was fetched from kafkajs's own idea of the committed offset, before this task fenced its
        // predecessor; initialize() seeks to the settled offset, so this batch is dropped and fetched again.
        await this.initializeWithRetry();
        return;
      }
      const messages = batch.messages.filter((m) => m.offset >= this.nextOffset);
      if (messages.length === 0) return;
      for (let start = 0; start < messages.length;) {
        if (!control.isActive() || !this.isRunning) return;
        // After a crash at this offset, one record per transaction until the suspected range is behind. The
        // plan is keyed by the first record, not the committed offset: that may sit on a transaction marker.
        const first = messages[start];
        const plan = first ? this.guard.planAt(first.offset) : undefined;
        if (first && plan?.mode === 'quarantine') {
          this.quarantine(first.offset, plan.crashes);
          return;
        }
        const size = !plan || plan.mode === 'normal' ? this.deps.maxRecordsPerTransaction : 1;
        const chunk = messages.slice(start, start + size);
        start += chunk.length;
        const isLast = start >= messages.length;
        const last = chunk[chunk.length - 1];
        if (!last) return;
        // The last chunk also covers trailing transaction markers, so the committed offset never stops on one.
        const endOffset =
          isLast && batch.lastOffset >= last.offset ? batch.lastOffset + 1n : last.offset + 1n;
        // Negative control: the consumer moves on before the commit is known to have succeeded.
        if (this.deps.broken === 'resolve-before-commit') control.resolveOffset(last.offset);
        const committed = await this.commitChunk(chunk, endOffset);
        if (!committed) return;
        control.resolveOffset(last.offset);
        await control.heartbeat();
      }
    });
  }

  /**
   * A fetched batch held only transaction markers or aborted records: kafkajs skipped it without calling us.
   * Commit the new position in an offsets-only transaction, so committed offsets reach the end of the input.
   */
  advanceOverSkipped(nextOffset: bigint): Promise<void> {
    return this.serially(async () => {
      if (this.state !== 'running' || this.breaker.state === 'open' || nextOffset <= this.nextOffset) return;
      if (this.quarantinedAt !== undefined) return;
      if (await this.commitChunk([], nextOffset)) return;
      // No batch may follow on a partition that is idle past its markers: recover now, then try again.
      while (await this.reinitializeAfterFailure()) {
        if (nextOffset <= this.nextOffset) return;
        if (await this.commitChunk([], nextOffset)) return;
      }
    });
  }

  /** Stops the task. Clean: waits for the running transaction to finish. Either way the producer is closed. */
  close(clean: boolean): Promise<void> {
    this.closing = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    const closing = this.serially(async () => {
      await this.shutDown(clean);
    });
    return closing;
  }

  /**
   * Takes back this task's journaled attempt now, outside the queue: for a process about to exit (a shutdown
   * timeout, a second signal, a fatal failure) whose queue may never reach the close.
   */
  releaseAttempt(): Promise<void> {
    return this.guard.release(this.nextOffset);
  }

  /** The partition is paused at `offset` for good (until an operator acts): no processing, no commits. */
  private quarantine(offset: bigint, crashes: number): void {
    if (this.quarantinedAt !== undefined) return;
    this.quarantinedAt = offset;
    this.deps.consumer.pause(this.partition);
    this.log.error(
      { offset: offset.toString(), crashes },
      `partition ${this.partition} quarantined at offset ${offset}: the record there crashed the process ${crashes} times when processed alone; the partition is paused (see \`eos-rollup quarantine --help\`)`,
    );
    this.deps.events.emit('partition.quarantined', { partition: this.partition, offset, crashes });
  }

  private async shutDown(clean: boolean): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    // The process lives on: an attempt that committed nothing did not crash it.
    await this.guard.release(this.nextOffset);
    // A later task of this partition finds the quarantine again in the journal, at its first batch: it needs one.
    if (this.quarantinedAt !== undefined) this.deps.consumer.resume(this.partition);
    await this.producer?.close();
    this.producer = undefined;
    this.deps.events.emit('task.closed', { partition: this.partition, clean });
    this.log.info({ clean }, 'task closed');
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The assignment order of design §2, in full, every time: (1) a fresh producer whose InitProducerId fences
   * the previous owner and settles its open transaction; (2) only then the group's committed offset; (3) state
   * restored from the changelog, read_committed, up to its end taken after (1); (4) the consumer sought there.
   */
  private async initialize(): Promise<void> {
    const started = this.deps.now();
    await this.producer?.close();
    this.producer = undefined;
    this.producer = await this.deps.kafka.createProducer(this.transactionalId);
    const producerMs = this.deps.now() - started;
    const committedOffset = await this.deps.kafka.committedOffset(
      this.deps.groupId,
      this.deps.topics.input,
      this.partition,
    );
    this.settleCommit(committedOffset);
    await this.deps.faults.hit('after-offset-fetch', this.partition);
    // Both only read; neither may still run when a failed initialization is retried.
    const [restored, loaded] = await Promise.allSettled([this.restore(), this.guard.load()]);
    if (restored.status === 'rejected') throw restored.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    const position =
      committedOffset ?? (await this.deps.kafka.partitionRange(this.deps.topics.input, this.partition)).start;
    this.nextOffset = position;
    this.deps.consumer.seek(this.partition, position);
    if (this.state === 'new') this.state = 'running';
    this.lastRecordAtMs = this.deps.now();
    this.streamTimeAtLastRecord = this.store.streamTimeMs;
    this.startIdleTimer();
    this.deps.events.emit('task.initialized', {
      partition: this.partition,
      committedOffset,
      position,
      producerMs,
    });
    this.log.info(
      {
        committedOffset: committedOffset?.toString() ?? null,
        position: position.toString(),
        producerMs,
        windows: this.store.windowCount,
      },
      'task initialized',
    );
  }

  /**
   * The next initialization settles an unknown commit outcome by the re-read committed offset, and says which:
   * `committed` when the group's offset is at or past the transaction's end (this commit landed, or a successor
   * owner's covered the range), `aborted` when it is not.
   */
  private settleCommit(committedOffset: bigint | null): void {
    const unsettled = this.deps.unsettledCommits.get(this.partition);
    if (!unsettled) return;
    this.deps.unsettledCommits.delete(this.partition);
    const { attemptId, fromOffset, endOffset } = unsettled;
    // A transaction that moved no offset (an idle flush) cannot be told apart by offsets: the restore decides.
    const outcome =
      endOffset <= fromOffset
        ? 'offsets unchanged: state restored from the changelog'
        : committedOffset !== null && committedOffset >= endOffset
          ? 'committed'
          : 'aborted';
    this.log.warn(
      {
        attemptId,
        endOffset: endOffset.toString(),
        committedOffset: committedOffset?.toString() ?? null,
        outcome,
      },
      'commit outcome settled by re-reading the committed offset',
    );
  }

  private async restore(): Promise<void> {
    const started = this.deps.now();
    // Negative control: keep whatever memory holds, aborted changes included.
    if (this.deps.broken === 'no-state-rollback' && this.store.windowCount > 0) return;
    this.store.clear();
    const { changelog } = this.deps.topics;
    const end = await this.stableChangelogEnd();
    let records = 0;
    let lastLogged = started;
    await this.deps.kafka.readChangelog(
      changelog,
      this.partition,
      end,
      (batch) => {
        for (const record of batch) this.store.restore(record.key, record.value);
        records += batch.length;
      },
      async (position) => {
        await this.deps.faults.hit('during-restore', this.partition);
        if (this.deps.now() - lastLogged >= 1000) {
          lastLogged = this.deps.now();
          this.log.info({ position: position.toString(), end: end.toString(), records }, 'restoring state');
        }
      },
      this.deps.broken === 'restore-read-uncommitted',
    );
    const durationMs = this.deps.now() - started;
    this.deps.events.emit('task.restored', {
      partition: this.partition,
      records,
      windows: this.store.windowCount,
      durationMs,
    });
    this.log.info(
      { records, windows: this.store.windowCount, durationMs, streamTimeMs: this.store.streamTimeMs },
      'state restored',
    );
  }

  /**
   * The changelog's read_committed end, once it is the whole changelog. This task's predecessors are fenced by
   * now, so an open transaction there is foreign or hanging; it holds the last stable offset below the high
   * watermark, and a restore up to it would load a prefix of the state and process on it. Waits, bounded, saying
   * so; after the bound this attempt fails (retriable: the task stays not ready, backs off and waits again).
   */
  private async stableChangelogEnd(): Promise<bigint> {
    const { changelog } = this.deps.topics;
    const boundMs = this.deps.restoreStableWaitMs ?? DEFAULT_RESTORE_STABLE_WAIT_MS;
    const started = this.deps.now();
    let range = await this.deps.kafka.partitionRange(changelog, this.partition);
    // The high watermark of the first look: whatever is written after it is not this restore's to wait for.
    const target = range.highWatermark ?? range.end;
    while (range.end < target) {
      const waitedMs = this.deps.now() - started;
      const facts = {
        partition: this.partition,
        stableOffset: range.end,
        highWatermark: target,
        waitedMs,
      };
      this.deps.events.emit('task.restore_waiting', facts);
      const detail = `${changelog}-${this.partition} has an open transaction: last stable offset ${range.end} < high watermark ${target}`;
      if (waitedMs >= boundMs) {
        throw new RetriableError(
          'CHANGELOG_UNSTABLE',
          `${detail} after waiting ${waitedMs} ms (RESTORE_STABLE_WAIT_MS=${boundMs}); a prefix of the state is never restored`,
        );
      }
      this.log.warn({ waitedMs, boundMs }, `${detail}; restore waits for it to end`);
      await this.deps.sleep(Math.min(1000, boundMs));
      if (this.closing) throw new RetriableError('CHANGELOG_UNSTABLE', `${detail}; task closing`);
      range = await this.deps.kafka.partitionRange(changelog, this.partition);
    }
    return range.end;
  }

  /** Initializes, backing off on failure, until it works, the task is closed, or a failure is fatal. */
  private async initializeWithRetry(): Promise<void> {
    for (;;) {
      if (this.closing || this.state === 'closed') return;
      try {
        await this.initialize();
        return;
      } catch (error) {
        const proceed = await this.recover(error, 'initializing');
        if (!proceed) return;
      }
    }
  }

  /**
   * One transaction, as numbered steps. Returns true when committed; false when it failed and the failure was
   * handled (state discarded, consumer rewound, producer replaced, backed off).
   */
  private async commitChunk(
    chunk: readonly InputMessage[],
    endOffset: bigint,
    advanceStreamTimeTo?: number,
  ): Promise<boolean> {
    const started = this.deps.now();
    // 1. Registry lookups, outside any transaction: an outage aborts nothing and dead-letters nothing.
    try {
      await this.deps.decoder.prepare(chunk.map((m) => m.value));
    } catch (error) {
      await this.recover(error, 'looking up schemas');
      return false;
    }
    // 2. The attempt is journaled before any record of it is processed: a record that kills the process is found.
    // 3. Everything the transaction will send is computed before its first send.
    const processed = await this.processChunk(chunk, endOffset, advanceStreamTimeTo);
    if (processed.outcome === 'quarantined') return false;
    if (processed.outcome === 'failed') {
      await this.recover(processed.error, processed.step);
      return false;
    }
    const prepared = processed.prepared;
    let transaction: TransactionPort | undefined;
    let commitSent = false;
    try {
      const producer = this.producer;
      if (!producer) throw new StageError('INVARIANT_VIOLATED', 'no producer while running');
      if (prepared.rollups > 0) await this.deps.faults.hit('at-window-close', this.partition);
      await this.deps.faults.hit('before-send', this.partition);
      // 4. Begin; send the rollups, then the dead letters, then the changelog deltas.
      transaction = await producer.begin();
      if (this.deps.broken === 'offsets-outside-transaction') {
        await this.deps.consumer.commitOffsetOutsideTransaction?.(this.partition, endOffset);
      }
      await this.sendPart(transaction, prepared.outputs, 'after-output-send');
      await this.sendPart(transaction, prepared.deadLetters, 'after-dlq-send');
      await this.sendPart(transaction, prepared.changelog, 'after-changelog-send');
      await this.deps.faults.hit('after-send', this.partition);
      // 5. The input offsets, in the same transaction.
      if (this.deps.broken !== 'offsets-outside-transaction')
        await transaction.sendOffsets(this.deps.groupId, {
          topic: this.deps.topics.input,
          partition: this.partition,
          offset: endOffset,
        });
      await this.deps.faults.hit('after-send-offsets', this.partition);
      await this.deps.faults.hit('before-commit', this.partition);
      // 6. Commit. (The fault point lets a test kill the process while EndTxn is in flight.)
      commitSent = true;
      const committing = transaction.commit();
      committing.catch(() => undefined);
      await this.deps.faults.hit('during-commit', this.partition);
      await committing;
    } catch (error) {
      // Nothing of this attempt may survive in memory: state is the changelog as of the last commit.
      if (this.deps.broken === 'no-state-rollback') prepared.storeTx.apply();
      else prepared.storeTx.discard();
      // A fenced commit is known not to have landed; a timeout or a lost connection leaves it open.
      if (commitSent && classify(error) !== 'fenced') {
        this.deps.unsettledCommits.set(this.partition, {
          attemptId: prepared.attemptId,
          fromOffset: this.nextOffset,
          endOffset,
        });
      }
      await this.abortQuietly(transaction);
      await this.recover(error, 'committing');
      return false;
    }
    // 7. Only now does the state change become real.
    prepared.storeTx.apply();
    this.nextOffset = endOffset;
    for (const offset of this.processingFailures.keys())
      if (offset < endOffset) this.processingFailures.delete(offset);
    if (chunk.length > 0) {
      this.lastRecordAtMs = this.deps.now();
      this.streamTimeAtLastRecord = this.store.streamTimeMs;
    }
    this.consecutiveFailures = 0;
    this.noteSuccess();
    await this.deps.faults.hit('after-commit', this.partition);
    const durationMs = this.deps.now() - started;
    for (const dead of prepared.deadLettered) {
      this.deps.events.emit('record.dead_lettered', {
        partition: this.partition,
        reason: dead.reason,
        offset: dead.offset,
      });
    }
    this.deps.events.emit('task.committed', {
      partition: this.partition,
      inputRecords: prepared.inputRecords,
      rollups: prepared.rollups,
      deadLetters: prepared.deadLettered.length,
      changelog: prepared.changelog.length,
      endOffset,
      durationMs,
      attemptId: prepared.attemptId,
    });
    this.log.debug(
      {
        attemptId: prepared.attemptId,
        inputRecords: prepared.inputRecords,
        rollups: prepared.rollups,
        deadLetters: prepared.deadLettered.length,
        endOffset: endOffset.toString(),
        durationMs,
      },
      'transaction committed',
    );
    return true;
  }

  /**
   * Steps 2 and 3 of a transaction, under the isolation gate when the record is processed alone: from before its
   * attempt is journaled until it is taken back, no other task of this process processes a record (design §15).
   * Failures are returned, not recovered here: a recovery backs off, and the gate must not be held meanwhile.
   */
  private async processChunk(
    chunk: readonly InputMessage[],
    endOffset: bigint,
    advanceStreamTimeTo: number | undefined,
  ): Promise<ProcessedChunk> {
    const first = chunk[0];
    const gate = this.deps.isolationGate;
    const leave =
      first && this.guard.planAt(first.offset).mode === 'isolated'
        ? await gate.hold(this.partition)
        : undefined;
    try {
      let plan: AttemptPlan = { mode: 'normal' };
      if (first) {
        try {
          plan = await this.guard.arm(first.offset, endOffset);
        } catch (error) {
          return { outcome: 'failed', error, step: 'journaling the attempt' };
        }
        if (plan.mode === 'quarantine') {
          this.quarantine(first.offset, plan.crashes);
          return { outcome: 'quarantined' };
        }
        await this.deps.faults.hit('after-arm', this.partition);
      }
      await gate.waitOpen(this.partition);
      let prepared: PreparedTransaction;
      try {
        prepared = this.prepare(chunk, endOffset, plan, advanceStreamTimeTo);
      } catch (error) {
        if (!(error instanceof RecordProcessingError)) throw error;
        const seen = this.processingFailures.get(error.offset);
        this.processingFailures.set(error.offset, {
          attempts: (seen?.attempts ?? 0) + 1,
          message: error.message,
        });
        return { outcome: 'failed', error, step: 'processing' };
      }
      // Processed alone without dying: whatever kills the process from here on is not this record's doing.
      if (first) await this.guard.processed(first.offset);
      return { outcome: 'prepared', prepared };
    } finally {
      leave?.();
    }
  }

  private prepare(
    chunk: readonly InputMessage[],
    endOffset: bigint,
    plan: AttemptPlan,
    advanceStreamTimeTo?: number,
  ): PreparedTransaction {
    const storeTx = this.store.begin();
    try {
      return this.prepareWithin(storeTx, chunk, endOffset, plan, advanceStreamTimeTo);
    } catch (error) {
      // A record that breaks processing must not leave the store with an open transaction.
      storeTx.discard();
      throw error;
    }
  }

  private prepareWithin(
    storeTx: StoreTransaction,
    chunk: readonly InputMessage[],
    endOffset: bigint,
    plan: AttemptPlan,
    advanceStreamTimeTo: number | undefined,
  ): PreparedTransaction {
    const { topics, windows, stage } = this.deps;
    const rollups: MetricRollup[] = [];
    const deadLetters: { message: InputMessage; poison: Poison }[] = [];
    for (const message of chunk) {
      const outcome = this.processOne(storeTx, message, message === chunk[0] ? plan : undefined);
      if (outcome.kind === 'dead-letter') deadLetters.push({ message, poison: outcome.poison });
      else rollups.push(...outcome.closed);
    }
    if (advanceStreamTimeTo !== undefined) {
      storeTx.advanceStreamTime(advanceStreamTimeTo);
      rollups.push(...closeWindows(storeTx, windows));
    }
    const changelog = storeTx.prepare();
    this.attempts += 1;
    // Unique across the tasks of one instance too: instance, partition, then the task's own counter.
    const attempt = attemptId(`${this.deps.instanceId}/p${this.partition}`, this.attempts);
    const total = rollups.length + deadLetters.length + changelog.length;
    const first = chunk[0]?.offset ?? endOffset;
    const last = chunk[chunk.length - 1]?.offset ?? endOffset - 1n;
    const lineage = lineageHeaders({
      sourceTopic: topics.input,
      sourcePartition: this.partition,
      firstOffset: first.toString(),
      lastOffset: last.toString(),
      attemptId: attempt,
      recordCount: total,
    });
    const failedAt = this.deps.now();
    const outputs: OutgoingRecord[] = [];
    for (const rollup of rollups) {
      const key = Buffer.from(rollup.host, 'utf8');
      outputs.push({
        topic: topics.output,
        partition: this.deps.outputPartition(key),
        key,
        value: this.deps.encodeRollup(rollup),
        headers: lineage,
      });
    }
    const deadLetterRecords: OutgoingRecord[] = [];
    for (const { message, poison } of deadLetters) {
      const headers = deadLetterHeaders(
        {
          topic: topics.input,
          partition: this.partition,
          offset: message.offset.toString(),
          timestampMs: message.timestampMs,
        },
        poison,
        failedAt,
        stage,
        message.headers,
      );
      deadLetterRecords.push({
        topic: topics.dlq,
        partition: this.partition % topics.dlqPartitions,
        key: message.key,
        value: message.value,
        headers: { ...headers, ...lineage },
      });
    }
    const changelogRecords: OutgoingRecord[] = [];
    for (const entry of changelog) {
      changelogRecords.push({
        topic: topics.changelog,
        partition: this.partition,
        key: entry.key,
        value: entry.value,
        headers: lineage,
      });
    }
    return {
      storeTx,
      outputs,
      deadLetters: deadLetterRecords,
      changelog: changelogRecords,
      endOffset,
      inputRecords: chunk.length,
      rollups: rollups.length,
      deadLettered: deadLetters.map(({ message, poison }) => ({
        reason: poison.reason,
        offset: message.offset,
      })),
      attemptId: attempt,
    };
  }

  /**
   * One record through the domain step. A record that already made processing throw, or crashed the process
   * when processed alone, MAX_PROCESSING_ATTEMPTS times is dead-lettered without another try: a deterministic
   * failure must not stop the partition for good.
   */
  private processOne(
    storeTx: StoreTransaction,
    message: InputMessage,
    plan: AttemptPlan | undefined,
  ): RecordOutcome {
    if (plan?.mode === 'dead-letter') {
      return {
        kind: 'dead-letter',
        poison: {
          reason: 'processing-failed',
          message: `processing this record crashed the process ${plan.crashes} times (each time processed alone, one record per transaction)`,
        },
      };
    }
    const failed = this.processingFailures.get(message.offset);
    if (failed && failed.attempts >= MAX_PROCESSING_ATTEMPTS) {
      return {
        kind: 'dead-letter',
        poison: { reason: 'processing-failed', message: `${failed.attempts} attempts: ${failed.message}` },
      };
    }
    try {
      this.deps.faults.hitSync('process-record', this.partition, message.offset);
      return processRecord(
        storeTx,
        this.deps.decoder.decode(message.value),
        this.deps.lookupHost,
        this.deps.windows,
      );
    } catch (error) {
      throw new RecordProcessingError(message.offset, error);
    }
  }

  private async sendPart(
    transaction: TransactionPort,
    records: readonly OutgoingRecord[],
    after: FaultPoint,
  ): Promise<void> {
    if (records.length === 0) return;
    await transaction.send(records);
    await this.deps.faults.hit(after, this.partition);
  }

  private async abortQuietly(transaction: TransactionPort | undefined): Promise<void> {
    if (!transaction) return;
    try {
      await transaction.abort();
    } catch {
      // The producer is replaced anyway; its successor's InitProducerId aborts whatever is left open.
    }
  }

  /**
   * After any failure: decide (pure policy), then act. Returns true when the caller may try again now, false
   * when the task is paused (breaker open) or closed. Fatal failures throw TaskFailedError.
   */
  private async recover(error: unknown, doing: string): Promise<boolean> {
    const kind: ErrorKind = classify(error);
    this.consecutiveFailures += 1;
    const decision = decide(kind, this.consecutiveFailures, this.deps.retry, this.deps.random);
    const code = error instanceof StageError ? error.code : 'UNKNOWN';
    const message = errorMessage(error);
    this.deps.events.emit('task.aborted', {
      partition: this.partition,
      kind,
      code,
      message,
      attempt: this.consecutiveFailures,
    });
    if (decision.action === 'fail') {
      this.log.error({ err: error, kind, code }, `fatal failure while ${doing}`);
      throw new TaskFailedError(this.partition, error);
    }
    this.log.warn(
      { kind, code, err: message, attempt: this.consecutiveFailures, backoffMs: decision.backoffMs },
      `transaction failed while ${doing}; rewinding`,
    );
    // The producer may be stuck or fenced: it is never used again. The next attempt starts from the
    // assignment steps, which also settle a commit whose outcome is unknown by re-reading the committed offset.
    await this.producer?.close();
    this.producer = undefined;
    if (this.deps.broken === 'resolve-before-commit' && this.state === 'running') {
      // Negative control: a new producer, but no rewind and no re-read of the committed offset.
      this.producer = await this.deps.kafka.createProducer(this.transactionalId);
      return true;
    }
    this.state = this.state === 'closed' ? 'closed' : 'new';
    const breakerState = this.breaker.recordFailure(this.deps.now());
    if (breakerState === 'open') {
      this.openBreaker();
      return false;
    }
    await this.deps.sleep(decision.backoffMs);
    if (this.closing || this.state === 'closed') return false;
    // Rewind now: whatever kafkajs fetched past the last commit is not processed twice. Best effort: the next
    // initialize() seeks to the settled offset in any case, and kafkajs refuses seeks while it restarts.
    try {
      this.deps.consumer.seek(this.partition, this.nextOffset);
    } catch (error) {
      this.log.debug({ err: errorMessage(error) }, 'rewind deferred to re-initialization');
    }
    return true;
  }

  private openBreaker(): void {
    this.deps.consumer.pause(this.partition);
    this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'open' });
    this.log.warn(
      { failures: this.breaker.consecutiveFailures },
      'circuit breaker open: partition paused, probing slowly',
    );
    this.scheduleProbe();
  }

  private startIdleTimer(): void {
    const idleMs = this.deps.idleFlushMs;
    if (idleMs <= 0 || this.idleTimer) return;
    this.idleTimer = setInterval(
      () => {
        this.flushIfIdle().catch((error: unknown) => {
          this.deps.onFatal(error);
        });
      },
      Math.min(idleMs, 1000),
    );
    this.idleTimer.unref();
  }

  /**
   * Idle flush (design §5): after idleFlushMs without a record, stream time moves forward by the wall-clock time
   * elapsed since the last record (never to the wall clock itself: event time may be far from it). It commits,
   * like any state change, only when the advance closes a window.
   */
  flushIfIdle(): Promise<void> {
    return this.serially(async () => {
      if (this.state !== 'running' || this.breaker.state !== 'closed' || this.store.windowCount === 0) return;
      if (this.quarantinedAt !== undefined) return;
      const idleForMs = this.deps.now() - this.lastRecordAtMs;
      const anchor = this.streamTimeAtLastRecord;
      if (idleForMs < this.deps.idleFlushMs || anchor === null) return;
      const target = anchor + idleForMs;
      if (!this.store.hasWindowClosedBy(target, this.deps.windows)) return;
      if (!(await this.consumedToStableOffset())) return;
      this.log.info({ idleForMs, streamTimeMs: target }, 'idle: advancing stream time to close windows');
      if (await this.commitChunk([], this.nextOffset, target)) return;
      // Recovered now, not at the next record, which an idle partition may never get; the flush is retried
      // once the re-initialized task has been idle long enough again.
      await this.reinitializeAfterFailure();
    });
  }

  /**
   * Idle means nothing left to read, not merely nothing fetched: a stalled fetcher would otherwise let stream
   * time overtake records already in Kafka and dead-letter them as late. The position must have reached the
   * partition's last stable offset (its read_committed end).
   */
  private async consumedToStableOffset(): Promise<boolean> {
    let end: bigint;
    try {
      ({ end } = await this.deps.kafka.partitionRange(this.deps.topics.input, this.partition));
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        'idle flush skipped: the input end offset could not be read',
      );
      return false;
    }
    const held = end > this.nextOffset;
    if (held) {
      // Once per hold at info: the check repeats every tick while the fetcher is stalled.
      this.log[this.idleFlushHeld ? 'debug' : 'info'](
        { position: this.nextOffset.toString(), stableOffset: end.toString() },
        'idle flush skipped: records up to the last stable offset are not consumed yet',
      );
    }
    this.idleFlushHeld = held;
    return !held;
  }

  /**
   * After a failed commit outside any batch (an offsets-only commit, an idle flush): the assignment steps again,
   * at once. Their InitProducerId also aborts the transaction the broken producer could not, which otherwise
   * holds the last stable offset of every partition it touched until the transaction timeout. True when the
   * task runs again.
   */
  private async reinitializeAfterFailure(): Promise<boolean> {
    if (this.state !== 'new' || this.closing || this.breaker.state === 'open') return false;
    await this.initializeWithRetry();
    return this.isRunning && !this.closing;
  }

  private scheduleProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      void this.serially(async () => {
        if (this.state === 'closed') return;
        this.breaker.startProbe(this.deps.now());
        this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'half-open' });
        try {
          await this.initialize();
        } catch (error) {
          if (classify(error) === 'fatal') {
            this.deps.onFatal(new TaskFailedError(this.partition, error));
            return;
          }
          this.log.warn({ err: errorMessage(error) }, 'probe failed; partition stays paused');
          this.breaker.recordFailure(this.deps.now());
          this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'open' });
          this.scheduleProbe();
          return;
        }
        // Half-open: the partition resumes; the next commit closes the breaker, the next failure reopens it.
        this.deps.consumer.resume(this.partition);
      }).catch((error: unknown) => {
        this.deps.onFatal(error);
      });
    }, this.deps.breaker.probeIntervalMs);
    this.probeTimer.unref();
  }

  private noteSuccess(): void {
    const before = this.breaker.state;
    this.breaker.recordSuccess(this.deps.now());
    if (before !== 'closed') {
      this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'closed' });
      this.log.info('circuit breaker closed: partition healthy again');
    }
  }
}
