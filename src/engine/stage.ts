/**
 * The stage: prepares topics, follows the inventory, then consumes the input with one PartitionTask per
 * assigned partition. kafkajs rebalances eagerly and has no revoke callback, so the assignment event is where
 * tasks of partitions no longer owned are closed and new ones created (design §2). Everything outside the
 * process comes in through `adapters` (src/app builds them), time through `clock`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { classify } from '../errors/classify.js';
import { RetriableError } from '../errors/errors.js';
import { StageEvents } from '../observability/events.js';
import {
  evaluateReadiness,
  type Readiness,
  type ReadinessFacts,
  type StageLifecycle,
} from '../observability/readiness.js';
import { SUSPECT_RANGE_MAX_RECORDS } from './attempt-policy.js';
import { ProcessIsolationGate } from './isolation-gate.js';
import { CommitLedger } from './commit-ledger.js';
import { instrumentTaskPort } from './instrumented-port.js';
import { ReadinessBook } from './readiness-book.js';
import type { BatchControl, InputBatch } from './ports.js';
import { backoffMs } from './retry-policy.js';
import { maxCheckpointAgeMs } from './state-checkpoint.js';
import type {
  BatchHandler,
  Clock,
  DecoratedTaskPorts,
  InputConsumerPort,
  InventoryPort,
  StageAdapters,
  StageJournalPort,
} from './stage-ports.js';
import type { TaskProcessorFactory } from './processor.js';
import { PartitionTask, TaskFailedError, type TaskDependencies } from './task.js';

export interface StageOptions {
  config: Config;
  logger: Logger;
  version: string;
  /** Who this instance is in the group: INSTANCE_ID, or one the composition root made up. */
  instanceId: string;
  adapters: StageAdapters;
  clock: Clock;
  events?: StageEvents;
}

type StageState = StageLifecycle;

/** How long an exiting process waits for its attempts to be taken back: a few journal writes, acks=all. */
const RELEASE_TIMEOUT_MS = 3000;

export class Stage {
  readonly events: StageEvents;
  readonly instanceId: string;
  /** Random per process: attempt ids stay unique when a restarted process has the same instance id. */
  private readonly runToken = randomBytes(4).toString('hex');
  private state: StageState = 'created';
  private readonly tasks = new Map<number, PartitionTask>();
  private taskSerial = 0;
  private restarting = false;
  private consumer: InputConsumerPort | undefined;
  private inventory: InventoryPort | undefined;
  private journal: StageJournalPort | undefined;
  private taskDeps: Omit<TaskDependencies, 'consumer' | 'incarnation'> | undefined;
  /** Commits in doubt, by partition: owned here, because a task is often replaced before it settles its own. */
  private readonly commitLedger = new CommitLedger();
  /** Negative controls (EOS_ROLLUP_BROKEN) around the consumer and batch controls; pass-through otherwise. */
  private controls: Pick<DecoratedTaskPorts, 'partitionControl' | 'batchControl'> | undefined;
  private settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  /** The consumer group's latest assignment to this instance; undefined before the first. */
  private assignment: readonly number[] | undefined;
  private assignmentSerial = 0;
  /** When a batch was first interrupted by a rebalance not yet followed by an assignment. */
  private rebalanceSeenAtMs: number | undefined;
  /** Readiness facts the tasks report through events. */
  private readonly book: ReadinessBook;
  /** Settles when the stage has stopped: resolved after stop(), rejected after a fatal failure. */
  readonly done: Promise<void>;

  constructor(private readonly options: StageOptions) {
    this.events = options.events ?? new StageEvents();
    this.instanceId = options.instanceId;
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.done.catch(() => undefined);
    this.book = new ReadinessBook(this.events);
  }

  get isReady(): boolean {
    return this.readiness().ready;
  }

  get lifecycle(): StageLifecycle {
    return this.state;
  }

  /** The input partitions the consumer group assigned to this instance last (empty before the first assignment). */
  get assignedPartitions(): readonly number[] {
    return this.assignment ?? [];
  }

  /** Ready: running, inventory caught up, assigned, and every assigned task restored, running, not quarantined. */
  readiness(): Readiness {
    return evaluateReadiness(this.readinessFacts());
  }

  readinessFacts(): ReadinessFacts {
    const partitions = (this.assignment ?? []).map((partition) =>
      this.book.partitionFacts(partition, this.tasks.get(partition)?.isRunning ?? false),
    );
    return {
      stage: this.state,
      // A job without a table has nothing to catch up with.
      inventoryCaughtUp:
        this.options.adapters.inventory === undefined || (this.inventory?.isCaughtUp ?? false),
      hasAssignment: this.assignment !== undefined,
      partitions,
    };
  }

  async start(): Promise<void> {
    const { config, logger, adapters, clock } = this.options;
    this.state = 'starting';
    const layout = await adapters.prepareTopics();
    if (layout.created.length > 0) logger.info({ topics: layout.created }, 'created missing topics');
    const processor = await this.buildProcessor();
    const journal = adapters.journal(layout.attemptsTopic);
    this.journal = journal;
    if (adapters.inventory) {
      const inventoryStarted = clock.now();
      const inventory = adapters.inventory();
      this.inventory = inventory;
      await inventory.start();
      this.events.emit('inventory.caught_up', {
        hosts: inventory.size,
        durationMs: clock.now() - inventoryStarted,
      });
      logger.info({ hosts: inventory.size }, 'inventory caught up');
    }

    const atLeastOnce =
      config.processingGuarantee === 'at_least_once'
        ? async ({ partition, offset }: { partition: number; offset: bigint }) => {
            if (!this.consumer)
              throw new RetriableError('REBALANCE_IN_PROGRESS', 'the input consumer is not running');
            await this.consumer.commitOffsetOutsideTransaction(partition, offset);
          }
        : undefined;
    // Negative controls are wired by the composition root; in production every port passes through unchanged.
    const ports = adapters.decorateTaskPorts(
      { kafka: adapters.taskKafka(atLeastOnce), journal, isolationGate: new ProcessIsolationGate() },
      async (partition, offset) => {
        await this.consumer?.commitOffsetOutsideTransaction(partition, offset);
      },
    );
    this.controls = ports;
    this.taskDeps = {
      groupId: config.appId,
      stage: { id: `${config.appId}/${this.instanceId}`, version: this.options.version },
      topics: { ...config.topics, dlqPartitions: layout.dlqPartitions },
      maxRecordsPerTransaction: config.commit.maxRecords,
      maxRecordsUntilFirstCommit: Math.min(config.commit.maxRecords, SUSPECT_RANGE_MAX_RECORDS),
      commitIntervalMs: config.commit.intervalMs,
      retry: config.retry,
      breaker: config.circuitBreaker,
      kafka: ports.kafka,
      journal: ports.journal,
      onProcessCrash: config.onProcessCrash,
      processor,
      outputPartition: adapters.outputPartitioner(layout.outputPartitions),
      events: this.events,
      faults: adapters.faults,
      logger,
      now: () => clock.now(),
      sleep: (ms) => clock.sleep(ms),
      random: () => clock.random(),
      idleFlushMs: config.idleFlushMs,
      restoreStableWaitMs: config.restoreStableWaitMs,
      stateDir: config.stateDir,
      // At least once, nothing fences an old owner's late changelog writes from landing before this task's:
      // a snapshot taken at a commit could miss them. Clean-close checkpoints check the changelog's end instead.
      checkpointIntervalMs: config.processingGuarantee === 'exactly_once' ? config.checkpointIntervalMs : 0,
      checkpointMaxAgeMs: maxCheckpointAgeMs(layout.changelogDeleteRetentionMs),
      commitLedger: this.commitLedger,
      isolationGate: ports.isolationGate,
      transactionalIdFor: ports.transactionalIdFor,
      stateRollback: ports.stateRollback,
      onFatal: (error) => {
        this.fail(error);
      },
    };
    const consumer = adapters.consumer(layout.inputPartitions, {
      onAssignment: (partitions) => {
        this.onAssignment(partitions);
      },
      onSkippedBatch: (partition, nextOffset) => {
        this.tasks
          .get(partition)
          ?.advanceOverSkipped(nextOffset)
          .catch((error: unknown) => {
            this.fail(error);
          });
      },
      onCrash: (error, willRestart) => {
        if (willRestart) logger.warn({ err: error }, 'consumer crashed; kafkajs restarts it');
        else this.onConsumerGaveUp(error);
      },
    });
    this.consumer = consumer;
    await consumer.start(this.handleBatch);
    this.state = 'running';
    if (config.brokenVariant)
      logger.warn({ variant: config.brokenVariant }, 'running a DELIBERATELY BROKEN variant (test only)');
    logger.info({ instanceId: this.instanceId, inputPartitions: layout.inputPartitions }, 'stage running');
  }

  private readonly handleBatch: BatchHandler = async (batch, control) => {
    const task = this.tasks.get(batch.partition) ?? this.createTask(batch.partition);
    if (!task.isRunning) {
      // The batch is dropped: initialization seeks the partition to its settled offset anyway.
      void this.initializeInBackground(task);
      return;
    }
    try {
      await task.handleBatch(batch, this.batchControl(batch, control));
    } catch (error) {
      if (this.options.adapters.translateError(error, 'batch').code === 'REBALANCE_IN_PROGRESS')
        this.rebalanceSeenAtMs ??= this.options.clock.now();
      // A task failure without recovery stops the stage; anything else (a heartbeat that learned of a
      // rebalance) goes back to kafkajs, which rejoins the group.
      if (error instanceof TaskFailedError) this.fail(error);
      throw error;
    }
  };

  private batchControl(batch: InputBatch, control: BatchControl): BatchControl {
    return this.controls ? this.controls.batchControl(batch, control) : control;
  }

  /**
   * kafkajs does not restart its consumer after an error it considers non-retriable, such as "failed to find
   * group coordinator" while the broker is down. A coordinator that moved or is away is retriable here (DESIGN
   * §4): close the tasks (their producers are replaced anyway), back off, and start the consumer again.
   */
  private onConsumerGaveUp(error: unknown): void {
    const kind = classify(this.options.adapters.translateError(error, 'input consumer'));
    if (kind !== 'retriable' || this.state !== 'running') {
      this.fail(error);
      return;
    }
    this.options.logger.warn({ err: error }, 'consumer stopped on a retriable error; restarting it');
    const consumer = this.consumer;
    if (!consumer || this.restarting) return;
    this.restarting = true;
    void (async () => {
      try {
        const closing = [...this.tasks.values()].map((task) => task.close(false));
        this.tasks.clear();
        await Promise.all(closing);
        for (let attempt = 1; this.state === 'running'; attempt++) {
          await this.options.clock.sleep(
            Math.min(
              this.options.config.retry.maxBackoffMs,
              this.options.config.retry.initialBackoffMs * 2 ** attempt,
            ),
          );
          try {
            await consumer.start(this.handleBatch);
            this.options.logger.info({ attempt }, 'consumer restarted');
            return;
          } catch (startError) {
            this.options.logger.warn({ err: startError, attempt }, 'consumer restart failed; retrying');
          }
        }
      } finally {
        this.restarting = false;
      }
    })();
  }

  /**
   * A task's initialization (its restore above all) can outlast the session timeout, and kafkajs heartbeats
   * only from its fetch loop, which waits for every batch it handed out. So initialization never runs inside
   * a batch: the partition is paused, the fetch loop (and its heartbeats) goes on with the others, and the
   * partition resumes once the task runs. A task that does not run (closed, or paused by its circuit breaker,
   * whose probe resumes it) is left paused.
   */
  private initializeInBackground(task: PartitionTask): Promise<void> {
    const consumer = this.consumer;
    consumer?.pause(task.partition);
    const started = task.start().then(() => {
      if (this.tasks.get(task.partition) === task && task.isRunning) consumer?.resume(task.partition);
    });
    started.catch((error: unknown) => {
      this.fail(error);
    });
    return started;
  }

  private createTask(partition: number): PartitionTask {
    const deps = this.taskDeps;
    const consumer = this.consumer;
    const controls = this.controls;
    if (!deps || !consumer || !controls) throw new Error('stage not started');
    // A new task incarnation per assignment: its transactional attempt ids must not repeat those of an earlier
    // task of this instance for the same partition (the counter starts again), so the incarnation names the task.
    // The run token keeps them apart across restarts, where the instance id repeats: a pod's name, or
    // hostname-pid in a container, where pid is always the same.
    this.taskSerial += 1;
    const task = new PartitionTask(partition, {
      ...deps,
      kafka: instrumentTaskPort(deps.kafka, partition, this.events, () => this.options.clock.now()),
      consumer: controls.partitionControl(consumer),
      incarnation: `${this.instanceId}.${this.runToken}.t${this.taskSerial}`,
    });
    this.tasks.set(partition, task);
    return task;
  }

  private onAssignment(partitions: number[]): void {
    const serial = ++this.assignmentSerial;
    const pauseStartedAtMs = this.rebalanceSeenAtMs ?? this.options.clock.now();
    this.rebalanceSeenAtMs = undefined;
    this.assignment = [...partitions];
    const starting: Promise<void>[] = [];
    const owned = new Set(partitions);
    for (const [partition, task] of this.tasks) {
      if (owned.has(partition) && task.isRunning) continue;
      // No longer ours (or stuck before running): close it; its in-flight transaction finishes or fails first.
      // Records still waiting for a commit are left to the next owner.
      this.tasks.delete(partition);
      void task.close(true, false);
    }
    for (const partition of partitions) {
      if (this.tasks.has(partition)) continue;
      starting.push(this.initializeInBackground(this.createTask(partition)));
    }
    this.events.emit('stage.assigned', { partitions });
    this.options.logger.info({ partitions }, 'partitions assigned');
    void Promise.allSettled(starting).then(() => {
      // A later assignment has its own pause; a stopping or failed stage has none to report.
      if (serial !== this.assignmentSerial || (this.state !== 'starting' && this.state !== 'running')) return;
      const pauseMs = this.options.clock.now() - pauseStartedAtMs;
      this.events.emit('stage.rebalanced', { partitions, pauseMs });
      this.options.logger.info({ partitions, pauseMs }, 'assignment settled');
    });
  }

  /** Stops fetching, lets running transactions finish, closes producers and clients. */
  /**
   * The job's processor, whose build registers or looks up its schemas. A registry that is unavailable then (an
   * outage, or a request left unanswered past its timeout) is waited for with the retry back-off, as a task waits
   * for it, instead of ending the start; any other failure, or a stop meanwhile, ends it.
   */
  private async buildProcessor(): Promise<TaskProcessorFactory> {
    const { config, logger, adapters, clock } = this.options;
    for (let retryCount = 1; ; retryCount += 1) {
      try {
        return await adapters.processor();
      } catch (error) {
        if (!(error instanceof RetriableError) || this.state !== 'starting') throw error;
        const retryInMs = backoffMs(retryCount, config.retry, () => clock.random());
        logger.warn({ err: error, retryInMs }, 'processor not built yet; retrying');
        await clock.sleep(retryInMs);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return this.done;
    this.state = 'stopping';
    try {
      // Tasks learn first, so none starts new work (or retries an initialization) while the consumer stops;
      // each closes after the transaction it is running, which consumer.stop() also waits for.
      const closing = [...this.tasks.values()].map((task) => task.close(true));
      await this.consumer?.stop();
      await Promise.all(closing);
      this.tasks.clear();
      await this.consumer?.disconnect();
      await this.inventory?.stop();
      await this.journal?.close();
      this.state = 'stopped';
      this.settle?.resolve();
    } catch (error) {
      this.fail(error);
    }
    return this.done;
  }

  /**
   * Takes back every task's journaled attempt, bounded: for a process about to exit without a clean stop. An
   * exit is no crash of the record at hand; without this, deaths of other causes would add up to a quarantine.
   */
  async releaseAttempts(timeoutMs: number = RELEASE_TIMEOUT_MS): Promise<void> {
    const releasing = Promise.allSettled([...this.tasks.values()].map((task) => task.releaseAttempt()));
    await Promise.race([releasing, this.options.clock.sleep(timeoutMs)]);
  }

  private fail(error: unknown): void {
    if (this.state === 'failed' || this.state === 'stopped') return;
    this.state = 'failed';
    this.options.logger.fatal({ err: error }, 'stage failed');
    // The caller exits as soon as `done` rejects: the attempts are taken back first, bounded.
    const releasing = this.releaseAttempts();
    void releasing.finally(() => this.settle?.reject(error));
    const closing = [...this.tasks.values()].map((task) => task.close(false));
    void this.consumer?.disconnect().catch(() => undefined);
    void this.inventory?.stop();
    // Closing tasks may still take back their attempts in the journal.
    void Promise.allSettled([releasing, ...closing]).then(() => this.journal?.close());
  }
}
