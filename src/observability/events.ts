/**
 * The engine's instrumentation: what happened, as events named `area.past_tense`. Logging and metrics are
 * subscribers (observability/); the engine never imports them.
 */
import { EventEmitter } from 'node:events';
import type { ErrorKind } from '../errors/errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface StageEventMap {
  'task.initialized': {
    partition: number;
    committedOffset: bigint | null;
    position: bigint;
    producerMs: number;
  };
  /** `records` were read from the changelog; `fromCheckpoint` came from a local state checkpoint (STATE_DIR). */
  'task.restored': {
    partition: number;
    records: number;
    fromCheckpoint?: number;
    /** Windows kept in memory from before a re-initialization, the changelog read from their last record on. */
    keptInMemory?: number;
    windows: number;
    durationMs: number;
  };
  'task.committed': {
    partition: number;
    inputRecords: number;
    rollups: number;
    deadLetters: number;
    changelog: number;
    endOffset: bigint;
    durationMs: number;
    attemptId: string;
  };
  'task.aborted': { partition: number; kind: ErrorKind; code: string; message: string; attempt: number };
  'task.closed': { partition: number; clean: boolean };
  /** Records fetched and waiting for the partition's next commit (commit on the interval); 0 once taken by it. */
  'task.pending_changed': { partition: number; records: number };
  'record.dead_lettered': { partition: number; reason: string; offset: bigint };
  'breaker.changed': { partition: number; state: BreakerState };
  /** The record at `offset` crashed the process `crashes` times alone: the partition is paused until an operator acts. */
  'partition.quarantined': { partition: number; offset: bigint; crashes: number };
  'stage.assigned': { partitions: number[] };
  /** Every task of an assignment is running again: the rebalance's pause, as far as this instance saw it, is over. */
  'stage.rebalanced': { partitions: number[]; pauseMs: number };
  'inventory.caught_up': { hosts: number; durationMs: number };
  /** A restore began (`position` null) or moved on; `task.restored` ends it. */
  'task.restore_progressed': {
    partition: number;
    records: number;
    position: bigint | null;
    endOffset: bigint;
  };
  /** A restore waits for an open transaction on its changelog partition to end before it reads. */
  'task.restore_waiting': {
    partition: number;
    stableOffset: bigint;
    highWatermark: bigint;
    waitedMs: number;
  };
  /** A task's producer began a transaction; `transaction.ended` follows whatever happens. */
  'transaction.began': { partition: number; transactionalId: string; atMs: number };
  /**
   * committed: the commit returned; aborted: the commit failed or the task aborted (a `task.aborted` with the
   * error kind follows); abandoned: the producer was closed with the transaction still open.
   */
  'transaction.ended': {
    partition: number;
    outcome: TransactionOutcome;
    durationMs: number;
  };
}

export type TransactionOutcome = 'committed' | 'aborted' | 'abandoned';

export type StageEventName = keyof StageEventMap;

export class StageEvents {
  private readonly emitter = new EventEmitter();

  emit<E extends StageEventName>(name: E, payload: StageEventMap[E]): void {
    this.emitter.emit(name, payload);
  }

  on<E extends StageEventName>(name: E, listener: (payload: StageEventMap[E]) => void): () => void {
    const wrapped = (payload: StageEventMap[E]) => {
      listener(payload);
    };
    this.emitter.on(name, wrapped);
    return () => this.emitter.off(name, wrapped);
  }
}
