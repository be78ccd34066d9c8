/**
 * Negative controls (EOS_ROLLUP_BROKEN, test only): each variant breaks one rule exactly-once rests on, so the
 * auditor can be shown to catch it. Each is a decorator around one port the task is given; the engine has no
 * branch for any of them, and production wiring passes the ports through untouched.
 */
import type { BrokenVariant } from '../config/config.js';
import { LINEAGE_HEADERS, headerText } from '../engine/lineage.js';
import { OPEN_GATE } from '../engine/isolation-gate.js';
import type {
  AttemptJournalPort,
  BatchControl,
  OutgoingRecord,
  ProducerPort,
  TaskKafkaPort,
  TransactionPort,
} from '../engine/ports.js';
import type { StateRollbackPort } from '../engine/state-rollback.js';
import type { DecoratableTaskPorts, DecoratedTaskPorts } from '../engine/stage-ports.js';

/** The ports a variant may replace, and what it returns: declared by the engine, which only sees the seam. */
export type DecoratablePorts = DecoratableTaskPorts;
export type DecoratedPorts = DecoratedTaskPorts;

/** What the decorators reach past the ports for: the adapters themselves. */
export interface NegativeControlAdapters {
  groupId: string;
  inputTopic: string;
  /** The process's instance id (not a task incarnation). */
  instanceId: string;
  /** The kafkajs task port's read at a chosen isolation. */
  readPartition: (
    isolation: 'read_committed' | 'read_uncommitted',
    ...args: Parameters<TaskKafkaPort['readChangelog']>
  ) => Promise<void>;
  /** The input consumer's plain (non-transactional) offset commit. */
  commitOffsetOutsideTransaction: (partition: number, offset: bigint) => Promise<void>;
}

export function decorateForNegativeControl(
  variant: BrokenVariant | undefined,
  ports: DecoratablePorts,
  adapters: NegativeControlAdapters,
): DecoratedPorts {
  const unchanged: DecoratedPorts = {
    ...ports,
    partitionControl: (control) => control,
    batchControl: (_, control) => control,
  };
  switch (variant) {
    case undefined:
      return unchanged;
    case 'offsets-outside-transaction':
      return { ...unchanged, kafka: offsetsOutsideTransaction(ports.kafka, adapters) };
    case 'no-state-rollback':
      return { ...unchanged, stateRollback: NO_STATE_ROLLBACK };
    case 'restore-read-uncommitted':
      return { ...unchanged, kafka: restoreReadUncommitted(ports.kafka, adapters) };
    case 'resolve-before-commit':
      return { ...unchanged, ...resolveBeforeCommit(ports.kafka) };
    case 'shared-transactional-id':
      return {
        ...unchanged,
        transactionalIdFor: () => `${adapters.groupId}-${adapters.inputTopic}-shared`,
      };
    case 'instance-transactional-id':
      // An id the next owner of the partition does not share, so it cannot fence this one.
      return {
        ...unchanged,
        transactionalIdFor: (partition) => `${adapters.groupId}-${adapters.instanceId}-${partition}`,
      };
    case 'no-attempt-release':
      return { ...unchanged, journal: withoutRelease(ports.journal) };
    case 'no-isolation-gate':
      return { ...unchanged, isolationGate: OPEN_GATE };
    case 'round-robin-assignment':
      // Not a port: the input consumer's assigner, chosen where it is built (wire-stage.ts).
      return unchanged;
  }
}

/**
 * Offsets committed by the consumer, outside the transaction, as soon as it sends anything (before its records),
 * and never in it: a crash between the two loses what the offsets covered.
 */
function offsetsOutsideTransaction(kafka: TaskKafkaPort, adapters: NegativeControlAdapters): TaskKafkaPort {
  const decorateTransaction = (transaction: TransactionPort): TransactionPort => {
    let committedOutside = false;
    const commitOutside = async (partition: number, offset: bigint): Promise<void> => {
      if (committedOutside) return;
      committedOutside = true;
      await adapters.commitOffsetOutsideTransaction(partition, offset);
    };
    return {
      send: async (records) => {
        const covered = coveredOffset(records);
        if (covered) await commitOutside(covered.partition, covered.offset);
        return transaction.send(records);
      },
      sendOffsets: (_groupId, offset) => commitOutside(offset.partition, offset.offset),
      commit: () => transaction.commit(),
      abort: () => transaction.abort(),
    };
  };
  const decorateProducer = (producer: ProducerPort): ProducerPort => ({
    transactionalId: producer.transactionalId,
    begin: async () => decorateTransaction(await producer.begin()),
    close: () => producer.close(),
  });
  return {
    ...bind(kafka),
    createProducer: async (transactionalId) => decorateProducer(await kafka.createProducer(transactionalId)),
  };
}

/** The input partition and the offset past the last record a transaction's records came from (lineage). */
function coveredOffset(
  records: readonly OutgoingRecord[],
): { partition: number; offset: bigint } | undefined {
  const headers = records[0]?.headers;
  if (!headers) return undefined;
  const partition = headerText(headers[LINEAGE_HEADERS.sourcePartition]);
  const last = headerText(headers[LINEAGE_HEADERS.lastOffset]);
  if (partition === null || last === null) return undefined;
  return { partition: Number(partition), offset: BigInt(last) + 1n };
}

/** The changelog restored read_uncommitted: aborted state comes back. */
function restoreReadUncommitted(kafka: TaskKafkaPort, adapters: NegativeControlAdapters): TaskKafkaPort {
  return {
    ...bind(kafka),
    readChangelog: (...args) => adapters.readPartition('read_uncommitted', ...args),
  };
}

/** A failed transaction's state changes are kept, and a re-initialization keeps whatever memory holds. */
const NO_STATE_ROLLBACK: StateRollbackPort = {
  dropFailed: (transaction) => {
    transaction.apply();
  },
  clearForRestore: (store) => {
    if (store.size > 0) return false;
    store.clear();
    return true;
  },
};

/**
 * The consumer is told a transaction's records are done as soon as the transaction sends anything, before its
 * commit is known to have succeeded; and no seek (the task's rewind, or its re-initialization's seek to the
 * committed offset) goes back behind that, so a failed transaction's records stay skipped.
 */
function resolveBeforeCommit(
  kafka: TaskKafkaPort,
): Pick<DecoratedPorts, 'kafka' | 'partitionControl' | 'batchControl'> {
  const batches = new Map<number, BatchControl>();
  const resolvedTo = new Map<number, bigint>();
  const resolve = (partition: number, next: bigint): void => {
    batches.get(partition)?.resolveOffset(next - 1n);
    resolvedTo.set(partition, next);
  };
  const decorateTransaction = (transaction: TransactionPort): TransactionPort => ({
    send: async (records) => {
      const covered = coveredOffset(records);
      if (covered) resolve(covered.partition, covered.offset);
      return transaction.send(records);
    },
    sendOffsets: async (groupId, offset) => {
      resolve(offset.partition, offset.offset);
      await transaction.sendOffsets(groupId, offset);
    },
    commit: () => transaction.commit(),
    abort: () => transaction.abort(),
  });
  return {
    kafka: {
      ...bind(kafka),
      createProducer: async (transactionalId) => {
        const producer = await kafka.createProducer(transactionalId);
        return {
          transactionalId: producer.transactionalId,
          begin: async () => decorateTransaction(await producer.begin()),
          close: () => producer.close(),
        };
      },
    },
    batchControl: (batch, control) => {
      batches.set(batch.partition, control);
      return control;
    },
    partitionControl: (control) => ({
      seek: (partition, offset) => {
        const past = resolvedTo.get(partition);
        control.seek(partition, past !== undefined && past > offset ? past : offset);
      },
      pause: (partition) => {
        control.pause(partition);
      },
      resume: (partition) => {
        control.resume(partition);
      },
    }),
  };
}

/** No attempt is ever taken back, as if every release path were skipped: deaths of other causes count. */
function withoutRelease(journal: AttemptJournalPort): AttemptJournalPort {
  return {
    read: (partition) => journal.read(partition),
    write: (partition, attempt) => journal.write(partition, attempt),
    release: () => Promise.resolve(),
  };
}

/** The port's methods bound to it, so a decorator can replace one and keep the others. */
function bind(kafka: TaskKafkaPort): TaskKafkaPort {
  return {
    createProducer: (transactionalId) => kafka.createProducer(transactionalId),
    committedOffset: (groupId, topic, partition) => kafka.committedOffset(groupId, topic, partition),
    partitionRange: (topic, partition) => kafka.partitionRange(topic, partition),
    readChangelog: (...args) => kafka.readChangelog(...args),
  };
}
