/**
 * What the stage needs from outside the process, without kafkajs, avsc or the registry: src/app builds these from
 * the configuration on the kafka/ and serde/ adapters, the stage's tests on fakes. The stage calls them in the
 * order of its start, so the order of start-up steps stays the stage's to read.
 */
import type { StageError } from '../errors/errors.js';
import type { FaultInjector } from './faults.js';
import type { IsolationGate } from './isolation-gate.js';
import type { TaskProcessorFactory } from './processor.js';
import type { StateRollbackPort } from './state-rollback.js';
import type {
  AttemptJournalPort,
  BatchControl,
  InputBatch,
  InputOffset,
  PartitionControl,
  TaskKafkaPort,
} from './ports.js';

export type BatchHandler = (batch: InputBatch, control: BatchControl) => Promise<void>;

export interface ConsumerListeners {
  onAssignment: (partitions: number[]) => void;
  /** A batch that held only markers or aborted records, skipped (and resolved) by the consumer itself. */
  onSkippedBatch: (partition: number, nextOffset: bigint) => void;
  onCrash: (error: unknown, willRestart: boolean) => void;
}

/** The input consumer group member: read_committed, no auto-commit, offsets resolved only after a commit. */
export interface InputConsumerPort extends PartitionControl {
  /** Joins the group and runs `handler` on every batch; may be called again after the consumer gave up. */
  start(handler: BatchHandler): Promise<void>;
  commitOffsetOutsideTransaction(partition: number, offset: bigint): Promise<void>;
  /** Stops fetching; waits for the batches handed out. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * A lookup table the processor reads (the rollup: the host inventory), read in full at start and followed
 * afterwards; the stage is ready only once it caught up. The processor got its lookup at construction.
 */
export interface InventoryPort {
  readonly isCaughtUp: boolean;
  readonly size: number;
  /** Resolves once the table holds everything the topic held at start. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StageJournalPort extends AttemptJournalPort {
  close(): Promise<void>;
}

/** The topics as prepared at start. */
export interface StageTopicLayout {
  inputPartitions: number;
  outputPartitions: number;
  dlqPartitions: number;
  /** `<APP_ID>-processing-attempts`: the crash-loop guard's journal. */
  attemptsTopic: string;
  created: string[];
  /** The changelog's effective `delete.retention.ms`; undefined when the broker did not say. */
  changelogDeleteRetentionMs?: number | undefined;
}

/** PROCESSING_GUARANTEE=at_least_once: what commits the group's offsets instead of a transaction. */
export type OffsetCommitter = (offset: InputOffset) => Promise<void>;

/** The task ports a negative control (EOS_ROLLUP_BROKEN, test only) may replace. */
export interface DecoratableTaskPorts {
  kafka: TaskKafkaPort;
  journal: AttemptJournalPort;
  isolationGate: IsolationGate;
  transactionalIdFor?: ((partition: number) => string) | undefined;
  stateRollback?: StateRollbackPort | undefined;
}

export interface DecoratedTaskPorts extends DecoratableTaskPorts {
  /** Around the consumer a task is handed. */
  partitionControl: (control: PartitionControl) => PartitionControl;
  /** Around each batch's control, as the task manager hands it to a task. */
  batchControl: (batch: InputBatch, control: BatchControl) => BatchControl;
}

export interface StageAdapters {
  /**
   * The negative controls' one seam: production returns the ports unchanged (with pass-through controls). Given
   * the input consumer's plain offset commit, which only the offsets-outside-transaction variant uses.
   */
  decorateTaskPorts(
    ports: DecoratableTaskPorts,
    commitOffsetOutsideTransaction: (partition: number, offset: bigint) => Promise<void>,
  ): DecoratedTaskPorts;
  /** Checks the broker (version, transaction timeout), then creates the missing topics. */
  prepareTopics(): Promise<StageTopicLayout>;
  /** The job's processor, with its serdes ready (the rollup: the output schema registered or looked up). */
  processor(): Promise<TaskProcessorFactory>;
  journal(attemptsTopic: string): StageJournalPort;
  /** Absent: the job reads no table, and readiness does not wait for one. */
  inventory?: (() => InventoryPort) | undefined;
  taskKafka(atLeastOnce: OffsetCommitter | undefined): TaskKafkaPort;
  /** The output topic's partition for a record key, as the Java client's default partitioner would pick it. */
  outputPartitioner(partitionCount: number): (key: Buffer) => number;
  consumer(concurrency: number, listeners: ConsumerListeners): InputConsumerPort;
  faults: FaultInjector;
  /** A failure of the Kafka client in the stage's terms (its code and kind decide retry or stop). */
  translateError(error: unknown, context: string): StageError;
}

/** Time and chance, injected: the stage's tests run on a fake clock. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}
