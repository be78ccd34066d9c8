/**
 * One task per assigned input partition (design §2). A task owns its transactional producer, its window state,
 * its changelog partition (same number) and its stream time, and it is the only owner of its transactions'
 * lifecycle: `commitChunk` reads as the numbered steps of one transaction, and every recovery decision is taken
 * here. What a transaction sends is built by the RecordCollector, the assignment steps are the StateRestorer's,
 * the breaker's probe and the idle flush's clock are in partition-timers.ts.
 *
 * Everything a task does runs through `serially`, so commits, initializations and a close never overlap. The one
 * exception is adding a batch to the pending transaction of a running task, which may overlap the commit running
 * (design §24): it processes the records into the range's store transaction only when nothing runs in the queue,
 * and otherwise keeps them for the queue to process.
 */
import type { Logger } from 'pino';
import { classify } from '../errors/classify.js';
import { StageError } from '../errors/errors.js';
import { errorMessage } from '../errors/message.js';
import { AttemptGuard } from './attempt-guard.js';
import { MAX_PROCESSING_ATTEMPTS, type AttemptPlan } from './attempt-policy.js';
import { recordIfInDoubt } from './commit-ledger.js';
import { IdleFlush, PartitionBreaker } from './partition-timers.js';
import { PendingTransaction, type PendingRange } from './pending-transaction.js';
import type {
  BatchControl,
  InputBatch,
  InputMessage,
  Acknowledged,
  ProducerPort,
  TransactionPort,
} from './ports.js';
import {
  RecordCollector,
  RecordProcessingError,
  type OpenTransaction,
  type PreparedTransaction,
  type ProcessedChunk,
  type TaskTopics,
} from './record-collector.js';
import type { TaskProcessor } from './processor.js';
import { decide } from './retry-policy.js';
import { STATE_ROLLBACK } from './state-rollback.js';
import { StateRestorer } from './state-restorer.js';
import { TaskCheckpoint } from './state-checkpoint.js';
import {
  defaultTransactionalId,
  reportCommitted,
  TaskFailedError,
  type TaskDependencies,
} from './task-dependencies.js';

export { MAX_PROCESSING_ATTEMPTS, RecordProcessingError, TaskFailedError };
export type { TaskDependencies, TaskTopics };

type TaskState = 'new' | 'running' | 'closed';

export class PartitionTask {
  readonly transactionalId: string;
  private state: TaskState = 'new';
  /** Set the moment close() is called, before its turn in the queue, so retry loops stop at once. */
  private closing = false;
  private producer: ProducerPort | undefined;
  /** The job's processor with its state store: restored from the changelog, changed only by commits. */
  private readonly processor: TaskProcessor;
  /** Next input offset to process: equals the committed offset plus nothing, after every commit. */
  private nextOffset = 0n;
  /** The retry count: consecutive retriable (or fenced) failures, reset by a commit. */
  private retryCount = 0;
  private readonly collector: RecordCollector;
  private readonly restorer: StateRestorer;
  private readonly checkpoint: TaskCheckpoint | undefined;
  private readonly breaker: PartitionBreaker;
  private readonly idle: IdleFlush;
  private readonly guard: AttemptGuard;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  /** The offset of the record that quarantined this partition: nothing more is processed or committed. */
  private quarantinedAt: bigint | undefined;
  /** Fetched records waiting for the next commit, processed as they join when they can be (design §24). */
  private readonly pending: PendingTransaction;
  /** Works in the queue, running or waiting: records join outside it processed only when there are none. */
  private queued = 0;
  /** The end of the range a commit in progress took from `pending`: batches arriving meanwhile start there. */
  private committingEnd: bigint | undefined;
  /** The last commit queued by a batch (settled: never rejects), for the next batch to wait on. */
  private lastQueuedCommit: Promise<void> = Promise.resolve();

  constructor(
    readonly partition: number,
    private readonly deps: TaskDependencies,
  ) {
    this.log = deps.logger.child({
      taskId: `${deps.topics.input}-${partition}`,
      topic: deps.topics.input,
      partition,
    });
    this.transactionalId =
      deps.transactionalIdFor?.(partition) ??
      defaultTransactionalId(deps.groupId, deps.topics.input, partition);
    this.guard = new AttemptGuard(deps.journal, partition, this.log, {
      owner: deps.incarnation,
      onCrash: deps.onProcessCrash ?? 'quarantine',
    });
    this.processor = deps.processor(partition);
    this.collector = new RecordCollector(partition, deps);
    this.checkpoint =
      deps.stateDir === undefined
        ? undefined
        : new TaskCheckpoint(
            deps.stateDir,
            { appId: deps.groupId, changelog: deps.topics.changelog, partition },
            deps.kafka,
            this.log,
            {
              intervalMs: deps.checkpointIntervalMs ?? 0,
              maxAgeMs: deps.checkpointMaxAgeMs,
              now: deps.now,
            },
          );
    this.restorer = new StateRestorer(
      partition,
      { ...deps, transactionalId: this.transactionalId },
      this.processor.store,
      this.log,
      () => this.closing,
      this.checkpoint,
    );
    this.breaker = new PartitionBreaker(partition, deps, this.log, {
      serially: (work) => this.serially(work),
      isClosed: () => this.state === 'closed',
      initialize: () => this.initialize(),
      fatal: (error) => new TaskFailedError(partition, error),
    });
    this.idle = new IdleFlush(partition, deps, this.log);
    this.pending = new PendingTransaction({
      intervalMs: deps.commitIntervalMs ?? 0,
      maxRecords: () => this.maxRecordsNow,
      now: deps.now,
    });
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  get windowCount(): number {
    return this.processor.store.size;
  }

  /** A transaction's cap: smaller until the journaled first transaction has committed (SUSPECT_RANGE_MAX_RECORDS). */
  private get maxRecordsNow(): number {
    const { maxRecordsPerTransaction, maxRecordsUntilFirstCommit } = this.deps;
    return this.guard.isBehind(this.nextOffset)
      ? maxRecordsPerTransaction
      : (maxRecordsUntilFirstCommit ?? maxRecordsPerTransaction);
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

  /**
   * Processes one fetched batch. A running task that commits on the interval only adds the records to the pending
   * transaction, outside the queue, so a commit in progress does not hold up kafkajs's next fetch; otherwise
   * returns once every chunk is committed, or after a failure was handled.
   */
  handleBatch(batch: InputBatch, control: BatchControl): Promise<void> {
    if (this.acceptsRecordsNow) return this.addWhileCommitting(batch, control);
    return this.serially(() => this.handleInQueue(batch, control));
  }

  /** Resolves once everything queued so far has run, such as the commits batches queued: their outcome is known. */
  settled(): Promise<void> {
    return this.serially(() => Promise.resolve());
  }

  private async handleInQueue(batch: InputBatch, control: BatchControl): Promise<void> {
    if (this.closing || this.state === 'closed' || this.breaker.state === 'open') return;
    if (this.quarantinedAt !== undefined) return;
    if (this.state === 'new') {
      // The batch was fetched from kafkajs's own idea of the committed offset, before this task fenced its
      // predecessor; initialize() seeks to the settled offset, so this batch is dropped and fetched again.
      await this.initializeWithRetry();
      return;
    }
    const messages = this.unseen(batch, control);
    const head = messages[0];
    if (!head) return;
    if (this.accumulates(head)) {
      await this.accumulate(batch, messages, control);
      return;
    }
    if (!(await this.flushPending())) return;
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
      const size = !plan || plan.mode === 'normal' ? this.maxRecordsNow : 1;
      const chunk = messages.slice(start, start + size);
      start += chunk.length;
      const isLast = start >= messages.length;
      const last = chunk[chunk.length - 1];
      if (!last) return;
      // The last chunk also covers trailing transaction markers, so the committed offset never stops on one.
      const endOffset = isLast && batch.lastOffset >= last.offset ? batch.lastOffset + 1n : last.offset + 1n;
      const committed = await this.commitChunk(chunk, endOffset);
      if (!committed) return;
      control.resolveOffset(last.offset);
      await control.heartbeat();
    }
  }

  /**
   * A fetched batch held only transaction markers or aborted records: kafkajs skipped it without calling us.
   * Commit the new position in an offsets-only transaction, so committed offsets reach the end of the input.
   */
  advanceOverSkipped(nextOffset: bigint): Promise<void> {
    return this.serially(async () => {
      if (this.state !== 'running' || this.breaker.state === 'open' || nextOffset <= this.nextOffset) return;
      if (this.quarantinedAt !== undefined) return;
      if (!this.pending.isEmpty) {
        // The skipped markers follow the pending records: one transaction covers both. On failure the records
        // are fetched again from the last commit, and the markers after them with them.
        this.pending.extendTo(nextOffset);
        if (!(await this.flushPending())) await this.reinitializeAfterFailure();
        return;
      }
      if (await this.commitChunk([], nextOffset)) return;
      // No batch may follow on a partition that is idle past its markers: recover now, then try again.
      while (await this.reinitializeAfterFailure()) {
        if (nextOffset <= this.nextOffset) return;
        if (await this.commitChunk([], nextOffset)) return;
      }
    });
  }

  /** Idle flush: closes the last windows of a partition that gets no records (see IdleFlush). */
  flushIfIdle(): Promise<void> {
    return this.serially(async () => {
      if (this.state !== 'running' || this.breaker.state !== 'closed') return;
      if (this.quarantinedAt !== undefined) return;
      // Records are waiting for their commit: the partition is not idle.
      if (!this.pending.isEmpty) return;
      const due = await this.idle.due(this.processor, this.nextOffset);
      // Records joined while it looked: the partition is not idle after all.
      if (!due || this.pending.current !== undefined) return;
      const { idleForMs, target } = due;
      this.log.info({ idleForMs, streamTimeMs: target }, 'idle: advancing stream time to close windows');
      if (await this.commitChunk([], this.nextOffset, target)) return;
      // Recovered now, not at the next record, which an idle partition may never get; the flush is retried
      // once the re-initialized task has been idle long enough again.
      await this.reinitializeAfterFailure();
    });
  }

  /**
   * Stops the task. Clean: waits for the running transaction to finish. Either way the producer is closed.
   * `flush`: the records waiting for a commit are committed first; otherwise they are dropped, uncommitted, for
   * the partition's next owner to process (a revoked partition).
   */
  close(clean: boolean, flush = clean): Promise<void> {
    this.closing = true;
    this.breaker.stop();
    this.idle.stop();
    this.pending.cancelTimer();
    return this.serially(async () => {
      if (flush && this.state === 'running' && this.breaker.state !== 'open') await this.flushPending();
      this.dropPending();
      await this.shutDown(clean);
    });
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
    // Running: the last transaction committed (a failed one leaves the task 'new'), so the store is committed state.
    const checkpoint = clean && this.state === 'running' ? this.checkpoint : undefined;
    this.state = 'closed';
    // The process lives on: an attempt that committed nothing did not crash it.
    await this.guard.release(this.nextOffset);
    // A later task of this partition finds the quarantine again in the journal, at its first batch: it needs one.
    if (this.quarantinedAt !== undefined) this.deps.consumer.resume(this.partition);
    await this.producer?.close();
    this.producer = undefined;
    // After the producer is gone: nothing of this task can commit after the state the checkpoint holds.
    await checkpoint?.save(this.processor.store);
    // A checkpoint being written while the task ran lands before the close is over (a later task takes it).
    await this.checkpoint?.settled();
    this.deps.events.emit('task.closed', { partition: this.partition, clean });
    this.log.info({ clean }, 'task closed');
  }

  /**
   * Whether a batch starting at `head` joins the pending transaction (or opens one) instead of being committed
   * on its own: only in normal mode. A record processed alone after a crash keeps its own transaction.
   */
  private accumulates(head: InputMessage): boolean {
    if (!this.pending.enabled) return false;
    const first = this.pending.firstOffset ?? head.offset;
    return this.guard.planAt(first).mode === 'normal' && this.guard.planAt(head.offset).mode === 'normal';
  }

  /**
   * Where the next unseen record starts: past the records waiting, past those a commit in progress covers, past
   * the committed ones.
   */
  private get position(): bigint {
    return this.pending.endOffset ?? this.committingEnd ?? this.nextOffset;
  }

  /** The batch's records from the task's position on. */
  private unseen(batch: InputBatch, control: BatchControl): InputMessage[] {
    const position = this.position;
    const messages = batch.messages.filter((m) => m.offset >= position);
    // Everything here is already committed or waiting for its commit. kafkajs starts again from the group's
    // committed offset after every rejoin, even for a partition this task kept: unresolved, these records
    // would be handed over again and again, and a waiting range longer than one fetch would never be passed.
    if (messages.length === 0 && batch.lastOffset < position) control.resolveOffset(position - 1n);
    return messages;
  }

  /**
   * Whether a batch may join the pending transaction without waiting for the task's queue. While the queue runs
   * something, joining records are only kept (see `canProcessNow`), so it may overlap a commit: the commit covers
   * the range it took, the batch starts a new one. Anything else (initialization, a failure being handled, a
   * close, the crash-loop guard's isolated records) goes through the queue.
   */
  private get acceptsRecordsNow(): boolean {
    return (
      this.pending.enabled &&
      this.state === 'running' &&
      !this.closing &&
      this.breaker.state !== 'open' &&
      this.quarantinedAt === undefined
    );
  }

  private async addWhileCommitting(batch: InputBatch, control: BatchControl): Promise<void> {
    const messages = this.unseen(batch, control);
    const head = messages[0];
    if (!head) return;
    // The crash-loop guard has these records processed alone: that is the queue's path.
    if (!this.accumulates(head)) return this.serially(() => this.handleInQueue(batch, control));
    for (let start = 0; start < messages.length;) {
      if (!control.isActive() || !this.acceptsRecordsNow) return;
      const added = this.join(batch, messages, start, this.position, false);
      if (!added) {
        // Full while its commit waits in the queue: wait for a commit to take it.
        await this.queueCommit();
        await this.lastQueuedCommit;
        continue;
      }
      start = added.next;
      this.reportPending();
      control.resolveOffset(added.last.offset);
      if (this.pending.isDue() || this.outputWaitsAtEnd()) await this.queueCommit();
      else
        this.pending.scheduleCommit((range) => {
          this.commitOnTimer(range);
        });
      await control.heartbeat();
    }
  }

  /**
   * Queues the commit of the records waiting, then waits for the commit queued before it: one commit runs while
   * the next range fills, and no more (that bounds the records held to two transactions' worth).
   */
  private async queueCommit(): Promise<void> {
    const previous = this.lastQueuedCommit;
    const commit = this.serially(() => this.commitWaiting());
    this.lastQueuedCommit = commit.catch((error: unknown) => {
      this.deps.onFatal(error);
    });
    await previous;
  }

  /** Adds a batch's records to the pending transaction; commits when it is full or its interval has elapsed. */
  private async accumulate(
    batch: InputBatch,
    messages: readonly InputMessage[],
    control: BatchControl,
  ): Promise<void> {
    for (let start = 0; start < messages.length;) {
      if (!control.isActive() || !this.isRunning) return;
      const added = this.join(batch, messages, start, this.nextOffset, true);
      if (!added) return;
      start = added.next;
      this.reportPending();
      // kafkajs fetches from the last resolved offset: without this it would fetch these records again. It
      // commits nothing (offsets are committed only in transactions), and a failure seeks back to the last commit.
      control.resolveOffset(added.last.offset);
      if (this.pending.isDue() || this.outputWaitsAtEnd()) {
        if (!(await this.flushPending())) return;
      } else {
        this.pending.scheduleCommit((range) => {
          this.commitOnTimer(range);
        });
      }
      // As after every commit: a rebalance is learnt of here, between batches.
      await control.heartbeat();
    }
  }

  /** Commits the pending transaction, if any. False: it failed, was discarded, and the failure was handled. */
  private async flushPending(): Promise<boolean> {
    const range = this.pending.take();
    if (!range) return true;
    this.reportPending();
    if (range.failure) {
      await this.recover(range.failure.error, 'processing');
      return false;
    }
    this.committingEnd = range.endOffset;
    let committed: boolean;
    try {
      committed = await this.commitChunk(range.messages, range.endOffset, undefined, range.processed);
    } finally {
      this.committingEnd = undefined;
    }
    if (committed) this.processKept();
    return committed;
  }

  /**
   * Adds `messages[start..]` (up to the cap) to the pending range and, when it can, processes them into the
   * range's open transaction at once instead of keeping them for the commit: the commit then only seals and
   * sends, and the records are not held until it. A failure is kept on the range, which is then due: its commit
   * fails with it and recovers as a commit whose processing failed.
   */
  private join(
    batch: InputBatch,
    messages: readonly InputMessage[],
    start: number,
    position: bigint,
    inQueue: boolean,
  ): ReturnType<PendingTransaction['add']> {
    const range = this.pending.current;
    const now =
      (range === undefined || (range.messages.length === 0 && range.failure === undefined)) &&
      this.canProcessNow(range?.firstOffset ?? messages[start]?.offset, messages, start, inQueue);
    const added = this.pending.add(batch, messages, start, position, !now);
    if (added && now) this.processInto(added.range, messages, start, added.next);
    return added;
  }

  /**
   * After a commit, in the queue: the records kept while it ran are processed now that its state is applied,
   * when they can be; the range's later records are then processed as they join.
   */
  private processKept(): void {
    const range = this.pending.current;
    if (!range || range.processed || range.failure || range.messages.length === 0) return;
    if (!this.canProcessNow(range.firstOffset, range.messages, 0, true)) return;
    const kept = range.messages.splice(0);
    this.processInto(range, kept, 0, kept.length);
    // Queued, not awaited: this runs inside the queue, at the end of the commit that just applied.
    if (this.pending.isDue() || this.outputWaitsAtEnd()) this.commitOnTimer(range);
  }

  /**
   * Output (a closed window) waits in a range that reached the partition's end: nothing is known to follow that
   * waiting out the interval would gather into the same transaction, so it is committed at once, and the output
   * is visible up to an interval sooner. Behind a backlog the range does not reach the end, and the interval
   * and the cap pace commits as before (design §24).
   */
  private outputWaitsAtEnd(): boolean {
    const range = this.pending.current;
    return range !== undefined && range.atEnd && (range.processed?.rollups.length ?? 0) > 0;
  }

  /**
   * Whether records from `messages[start]` on, the transaction starting at `first`, can be processed right now,
   * synchronously, with every rule of a commit's steps 1-3 kept: outside the queue, nothing runs or waits in it
   * (a commit whose state is not applied yet, or any work that may open a store transaction meanwhile; inside
   * it, the callers run between commits); the crash-loop guard would journal nothing for `first`; the
   * isolation gate is open; the decoder needs no registry lookup for them.
   */
  private canProcessNow(
    first: bigint | undefined,
    messages: readonly InputMessage[],
    start: number,
    inQueue: boolean,
  ): boolean {
    if (first === undefined || (!inQueue && this.queued > 0)) return false;
    if (!this.guard.isArmedAt(first) || !this.deps.isolationGate.isOpenFor(this.partition)) return false;
    const values: (Buffer | null)[] = [];
    for (let i = start; i < messages.length; i += 1) values.push(messages[i]?.value ?? null);
    return this.processor.isPrepared(values);
  }

  private processInto(
    range: PendingRange,
    messages: readonly InputMessage[],
    from: number,
    to: number,
  ): void {
    try {
      range.processed ??= this.collector.open(this.processor);
      this.collector.add(this.processor, range.processed, messages, from, to);
    } catch (error) {
      // The collector discarded the store transaction; the commit that takes the range fails with this.
      range.processed = undefined;
      range.failure = { error };
    }
  }

  /** Drops the records waiting, with whatever of them was processed into a store transaction. */
  private dropPending(): void {
    const range = this.pending.take();
    if (!range) return;
    range.processed?.storeTx.discard();
    this.reportPending();
  }

  private reportPending(): void {
    this.deps.events.emit('task.pending_changed', { partition: this.partition, records: this.pending.size });
  }

  /** Commits `range` through the queue, if it still waits by then; no batch may follow to recover. */
  private commitOnTimer(range: PendingRange): void {
    this.serially(async () => {
      if (this.pending.holds(range)) await this.commitWaiting();
    }).catch((error: unknown) => {
      this.deps.onFatal(error);
    });
  }

  /** A commit run from the queue, not from a batch: no batch may follow to recover, so it recovers now. */
  private async commitWaiting(): Promise<void> {
    if (this.closing || this.state !== 'running') return;
    if (!(await this.flushPending())) await this.reinitializeAfterFailure();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const run = this.queue.then(work, work).finally(() => {
      this.queued -= 1;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The assignment order of design §2, in full, every time (the StateRestorer's steps), then (4) the consumer
   * sought to the settled offset and the task running.
   */
  private async initialize(): Promise<void> {
    await this.producer?.close();
    this.producer = undefined;
    const { committedOffset, position, producerMs } = await this.restorer.initialize(
      (producer) => {
        this.producer = producer;
      },
      () => this.guard.load(),
    );
    this.nextOffset = position;
    this.processor.init();
    this.deps.consumer.seek(this.partition, position);
    if (this.state === 'new') this.state = 'running';
    this.idle.noteRecords(this.processor.store.streamTimeMs);
    this.idle.start(
      () => this.flushIfIdle(),
      (error) => {
        this.deps.onFatal(error);
      },
    );
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
        windows: this.processor.store.size,
      },
      'task initialized',
    );
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
   * handled (state discarded, consumer rewound, producer replaced, backed off). `processedHead`: the
   * transaction's first records, processed as they joined it (steps 1-3 already done for them); `chunk` then
   * holds only the records after them.
   */
  private async commitChunk(
    chunk: readonly InputMessage[],
    endOffset: bigint,
    advanceStreamTimeTo?: number,
    processedHead?: OpenTransaction,
  ): Promise<boolean> {
    const started = this.deps.now();
    // 1. Registry lookups, outside any transaction: an outage aborts nothing and dead-letters nothing.
    try {
      await this.processor.prepare(chunk.map((m) => m.value));
    } catch (error) {
      processedHead?.storeTx.discard();
      await this.recover(error, 'looking up schemas');
      return false;
    }
    // 2. The attempt is journaled before any record of it is processed: a record that kills the process is found.
    // 3. Everything the transaction will send is computed before its first send.
    const processed = await this.processChunk(chunk, endOffset, advanceStreamTimeTo, processedHead);
    if (processed.outcome === 'quarantined') return false;
    if (processed.outcome === 'failed') {
      await this.recover(processed.error, processed.step);
      return false;
    }
    const prepared = processed.prepared;
    let transaction: TransactionPort | undefined;
    let commitSent = false;
    let changelogWritten: readonly Acknowledged[] = [];
    try {
      const producer = this.producer;
      if (!producer) throw new StageError('INVARIANT_VIOLATED', 'no producer while running');
      if (prepared.rollups > 0) await this.deps.faults.hit('at-window-close', this.partition);
      await this.deps.faults.hit('before-send', this.partition);
      // 4. Begin; send the rollups, the dead letters and the changelog deltas together.
      transaction = await producer.begin();
      changelogWritten = await this.sendRecords(transaction, prepared);
      await this.deps.faults.hit('after-send', this.partition);
      // 5. The input offsets, in the same transaction.
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
      (this.deps.stateRollback ?? STATE_ROLLBACK).dropFailed(prepared.storeTx);
      const failure = commitSent
        ? recordIfInDoubt(this.deps.commitLedger, this.log, this.partition, error, {
            attemptId: prepared.attemptId,
            fromOffset: this.nextOffset,
            endOffset,
          })
        : error;
      await this.abortQuietly(transaction);
      await this.recover(failure, 'committing');
      return false;
    }
    // 7. Only now does the state change become real.
    prepared.storeTx.apply();
    const changelogAcknowledged = changelogWritten.find(
      (a) => a.topic === this.deps.topics.changelog && a.partition === this.partition,
    );
    this.restorer.committed(prepared.changelog, changelogAcknowledged);
    this.checkpoint?.committed(
      prepared.attemptId,
      prepared.changelog,
      changelogAcknowledged,
      this.processor.store,
    );
    this.nextOffset = endOffset;
    this.collector.committedUpTo(endOffset);
    if (prepared.inputRecords > 0) this.idle.noteRecords(this.processor.store.streamTimeMs);
    this.retryCount = 0;
    this.breaker.recordSuccess();
    await this.deps.faults.hit('after-commit', this.partition);
    reportCommitted(this.deps.events, this.log, this.partition, prepared, this.deps.now() - started);
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
    processedHead: OpenTransaction | undefined,
  ): Promise<ProcessedChunk> {
    const first = processedHead?.firstOffset ?? chunk[0]?.offset;
    const gate = this.deps.isolationGate;
    const leave =
      first !== undefined && this.guard.planAt(first).mode === 'isolated'
        ? await gate.hold(this.partition)
        : undefined;
    try {
      let plan: AttemptPlan = { mode: 'normal' };
      if (first !== undefined) {
        try {
          plan = await this.guard.arm(first, endOffset);
        } catch (error) {
          processedHead?.storeTx.discard();
          return { outcome: 'failed', error, step: 'journaling the attempt' };
        }
        if (plan.mode === 'quarantine') {
          processedHead?.storeTx.discard();
          this.quarantine(first, plan.crashes);
          return { outcome: 'quarantined' };
        }
        try {
          await this.deps.faults.hit('after-arm', this.partition);
        } catch (error) {
          // A fault that throws here leaves the transaction's processed records behind: their store
          // transaction must not stay open on the store.
          processedHead?.storeTx.discard();
          throw error;
        }
      }
      await gate.waitOpen(this.partition);
      let prepared: PreparedTransaction;
      try {
        prepared = this.collector.collect(
          this.processor,
          chunk,
          endOffset,
          plan,
          advanceStreamTimeTo,
          processedHead,
        );
      } catch (error) {
        if (!(error instanceof RecordProcessingError)) throw error;
        return { outcome: 'failed', error, step: 'processing' };
      }
      // Processed alone without dying: whatever kills the process from here on is not this record's doing.
      if (first !== undefined) await this.guard.processed(first);
      return { outcome: 'prepared', prepared };
    } finally {
      leave?.();
    }
  }

  /**
   * One send for every record of the transaction: one AddPartitionsToTxn and one Produce request per leader,
   * where a send per kind took one of each per kind, in sequence. The fault points of the kinds keep their order
   * and their counts (each is hit only when its kind was sent); they are all after the one request now.
   */
  private async sendRecords(
    transaction: TransactionPort,
    prepared: PreparedTransaction,
  ): Promise<readonly Acknowledged[]> {
    const { outputs, deadLetters, changelog } = prepared;
    if (outputs.length + deadLetters.length + changelog.length === 0) return [];
    const acknowledged = await transaction.send([...outputs, ...deadLetters, ...changelog]);
    if (outputs.length > 0) await this.deps.faults.hit('after-output-send', this.partition);
    if (deadLetters.length > 0) await this.deps.faults.hit('after-dlq-send', this.partition);
    if (changelog.length > 0) await this.deps.faults.hit('after-changelog-send', this.partition);
    return acknowledged;
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
    const kind = classify(error);
    this.retryCount += 1;
    const decision = decide(kind, this.retryCount, this.deps.retry, this.deps.random);
    const code = error instanceof StageError ? error.code : 'UNKNOWN';
    const message = errorMessage(error);
    this.deps.events.emit('task.aborted', {
      partition: this.partition,
      kind,
      code,
      message,
      attempt: this.retryCount,
    });
    if (decision.action === 'fail') {
      this.log.error({ err: error, kind, code }, `fatal failure while ${doing}`);
      throw new TaskFailedError(this.partition, error);
    }
    this.log.warn(
      { kind, code, err: message, attempt: this.retryCount, backoffMs: decision.backoffMs },
      `transaction failed while ${doing}; rewinding`,
    );
    // No batch joins the pending transaction from here on, and the records that joined it while this commit
    // ran are dropped unprocessed: the rewind below fetches them again from the last commit.
    this.state = this.state === 'closed' ? 'closed' : 'new';
    this.dropPending();
    // The producer may be stuck or fenced: it is never used again. The next try starts from the assignment
    // steps, which also settle a commit whose outcome is unknown by re-reading the committed offset.
    await this.producer?.close();
    this.producer = undefined;
    if (this.breaker.recordFailure() === 'open') return false;
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
}
