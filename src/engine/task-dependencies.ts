/**
 * What a partition task is built from: the task manager (Stage) assembles these once per process, and per task
 * adds the consumer and the task incarnation. Negative controls replace some of them with decorators
 * (src/negative-controls/); the task itself never knows.
 */
import type { Logger } from 'pino';
import { StageError } from '../errors/errors.js';
import { errorMessage } from '../errors/message.js';
import type { StageEvents } from '../observability/events.js';
import type { OnProcessCrash } from './attempt-policy.js';
import type { UnsettledCommits } from './commit-ledger.js';
import type { StageIdentity } from './dead-letter.js';
import type { FaultInjector } from './faults.js';
import type { IsolationGate } from './isolation-gate.js';
import type { AttemptJournalPort, PartitionControl, TaskKafkaPort } from './ports.js';
import type { TaskProcessorFactory } from './processor.js';
import type { PreparedTransaction, TaskTopics } from './record-collector.js';
import type { StateRollbackPort } from './state-rollback.js';

export interface TaskDependencies {
  groupId: string;
  /** The task incarnation: unique across processes, it stamps journal entries and transactional attempt ids. */
  incarnation: string;
  stage: StageIdentity;
  topics: TaskTopics;
  maxRecordsPerTransaction: number;
  /**
   * The cap until the task's first transaction has committed: that is the transaction the crash-loop guard
   * journals, and a crash in it has the next attempt process its whole range one record per transaction.
   * Unset: maxRecordsPerTransaction.
   */
  maxRecordsUntilFirstCommit?: number | undefined;
  /**
   * A transaction spans fetched batches until it is this old or holds maxRecordsPerTransaction records.
   * 0 or unset: every batch is committed on its own.
   */
  commitIntervalMs?: number | undefined;
  retry: { initialBackoffMs: number; maxBackoffMs: number };
  breaker: { threshold: number; probeIntervalMs: number };
  kafka: TaskKafkaPort;
  /** The processing-attempts journal: how a record that crashes the process is found and given up on. */
  journal: AttemptJournalPort;
  /** What becomes of a record that crashed the process each time it was processed alone; default quarantine. */
  onProcessCrash?: OnProcessCrash | undefined;
  consumer: PartitionControl;
  /** The job's records: one processor, with its store and serdes, per task. */
  processor: TaskProcessorFactory;
  /** The output topic's partition for a record key, as the Java client's default partitioner would pick it. */
  outputPartition: (key: Buffer) => number;
  events: StageEvents;
  faults: FaultInjector;
  logger: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** 0: off. Otherwise a task idle this long (wall clock) advances its stream time so the processor can punctuate (the rollup closes its last windows). */
  idleFlushMs: number;
  /**
   * How long a restore waits for the changelog partition's open transactions (last stable offset below the high
   * watermark) to end before it gives up on this try. Default: RESTORE_STABLE_WAIT_MS's.
   */
  restoreStableWaitMs?: number;
  /** STATE_DIR: where the task leaves its state checkpoint; undefined: none, full restores. */
  stateDir?: string | undefined;
  /** STATE_CHECKPOINT_INTERVAL_MS: how often a running task writes its checkpoint; 0 or unset: at a clean close only. */
  checkpointIntervalMs?: number | undefined;
  /** The oldest checkpoint a task trusts (maxCheckpointAgeMs); unset: MAX_CHECKPOINT_AGE_MS. */
  checkpointMaxAgeMs?: number | undefined;
  /** A failure found outside a batch (a probe, an idle flush) that has no recovery: the stage must stop. */
  onFatal: (error: unknown) => void;
  /** Shared by the tasks of one process: no record is processed while another task's isolated record stands. */
  isolationGate: IsolationGate;
  /** Owned by the task manager: a commit in doubt is recorded here, and settled by the partition's next task. */
  commitLedger: UnsettledCommits;
  /**
   * The partition's transactional id. Default `<groupId>-<input topic>-<partition>`: the same for every owner of
   * the partition, so a new owner's InitProducerId fences the old one.
   */
  transactionalIdFor?: ((partition: number) => string) | undefined;
  /** How failed state changes are dropped and state rebuilt; default STATE_ROLLBACK. */
  stateRollback?: StateRollbackPort | undefined;
}

/** The production transactional id: the same for every owner of the partition, so a new owner fences the old. */
export function defaultTransactionalId(groupId: string, inputTopic: string, partition: number): string {
  return `${groupId}-${inputTopic}-${partition}`;
}

/** Thrown out of a task when its failure has no recovery: the stage stops and exits non-zero. */
export class TaskFailedError extends StageError {
  constructor(partition: number, cause: unknown) {
    const message = errorMessage(cause);
    super('INVARIANT_VIOLATED', `task for partition ${partition} failed: ${message}`, { cause });
  }
}

/** What a committed transaction tells the metrics and the log. */
export function reportCommitted(
  events: StageEvents,
  log: Logger,
  partition: number,
  prepared: PreparedTransaction,
  durationMs: number,
): void {
  for (const dead of prepared.deadLettered) {
    events.emit('record.dead_lettered', { partition, reason: dead.reason, offset: dead.offset });
  }
  const { endOffset, attemptId, inputRecords, rollups } = prepared;
  const deadLetters = prepared.deadLettered.length;
  events.emit('task.committed', {
    partition,
    inputRecords,
    rollups,
    deadLetters,
    changelog: prepared.changelog.length,
    endOffset,
    durationMs,
    attemptId,
  });
  log.debug(
    { attemptId, inputRecords, rollups, deadLetters, endOffset: endOffset.toString(), durationMs },
    'transaction committed',
  );
}
