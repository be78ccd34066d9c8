/**
 * The input consumer on kafkajs, configured for exactly-once (design §2): read_committed, no auto-commit, no
 * auto-resolve (offsets resolve only after a commit), and its events translated into the engine's terms.
 */
import {
  PartitionAssigners,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
} from 'kafkajs';
import type { BatchControl, InputBatch, InputHeaders, InputMessage } from '../../engine/ports.js';
import type { BatchHandler, ConsumerListeners, InputConsumerPort } from '../../engine/stage-ports.js';
import { FatalError, RetriableError } from '../../errors/errors.js';
import { recordOffset, recordTimestampMs } from '../../kafkajs-internals/index.js';
import { translateKafkaError } from '../client/translate-error.js';
import { stickyAssigner } from './sticky-assigner.js';

declare module 'kafkajs' {
  interface ConsumerConfig {
    /** Static membership (KIP-345): an option patches/kafkajs+2.2.4+010+static-membership.patch adds; null or absent: dynamic. */
    groupInstanceId?: string | null;
  }
}

export interface InputConsumerSettings {
  groupId: string;
  topic: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** Static membership's group.instance.id; undefined: a dynamic member. */
  groupInstanceId: string | undefined;
  /** The fetch waits up to this long when there is no data (a fetch returns whatever there is: design §24). */
  maxWaitTimeMs: number;
  /**
   * Most bytes a fetch takes from one partition. Everything a fetch returns is decoded at once and held until
   * its records are committed, so this bounds memory more than speed (design §24, "How much a fetch takes").
   * Kafka still returns a larger record batch whole when its partition is the first with data in a fetch, and
   * kafkajs shuffles the partitions of every fetch, so such a batch is read, only later.
   */
  maxPartitionFetchBytes: number;
  /** Partitions handled in parallel, each by its own task and producer. */
  concurrency: number;
  /** Keep partitions with their owners across rebalances (sticky-assigner.ts); false: kafkajs's round robin. */
  stickyAssignment: boolean;
}

/**
 * Retries of the fetch loop and of the consumer's cluster lookups. A retry finds a moved partition leader or group
 * coordinator only after Kafka has moved it (a killed broker is fenced after broker.session.timeout.ms), so the
 * wait between retries is capped at 1 s: the stall after a move is at most about a second, not up to 5 s. About
 * 26 s in all before the consumer gives up and restarts, as with kafkajs's own 10 retries up to 5 s apart.
 */
export const CONSUMER_RETRY = { retries: 28, initialRetryTime: 100, maxRetryTime: 1000 };

export class InputConsumer implements InputConsumerPort {
  private readonly consumer: Consumer;
  /** This member's last assignment: it asks the group leader to keep it (sticky-assigner.ts). */
  private owned: Record<string, number[]> = {};

  constructor(
    kafka: Kafka,
    private readonly settings: InputConsumerSettings,
    listeners: ConsumerListeners,
  ) {
    this.consumer = kafka.consumer({
      groupId: settings.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      groupInstanceId: settings.groupInstanceId ?? null,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      minBytes: 1,
      maxBytesPerPartition: settings.maxPartitionFetchBytes,
      retry: CONSUMER_RETRY,
      partitionAssigners: settings.stickyAssignment
        ? [stickyAssigner(() => this.owned), PartitionAssigners.roundRobin]
        : [PartitionAssigners.roundRobin],
    });
    const { GROUP_JOIN, END_BATCH_PROCESS, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => {
      const partitions = [...(event.payload.memberAssignment[settings.topic] ?? [])].sort((a, b) => a - b);
      this.owned = { [settings.topic]: partitions };
      listeners.onAssignment(partitions);
    });
    this.consumer.on(END_BATCH_PROCESS, (event) => {
      if (event.payload.batchSize === 0 && event.payload.topic === settings.topic) {
        listeners.onSkippedBatch(event.payload.partition, BigInt(event.payload.lastOffset) + 1n);
      }
    });
    this.consumer.on(CRASH, (event) => {
      listeners.onCrash(
        namingTheInstance(event.payload.error, settings.groupInstanceId),
        event.payload.restart,
      );
    });
  }

  async start(handler: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.settings.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: (payload) => handler(toInputBatch(payload), toControl(payload)),
    });
  }

  /**
   * kafkajs drops its consumer group object while it restarts after a crash (stop, then run again), and its
   * seek, pause and resume throw in that window. A seek that cannot happen is retriable: the task backs off and
   * initializes again, and the restarted consumer's assignment recreates tasks anyway.
   */
  seek(partition: number, offset: bigint): void {
    try {
      this.consumer.seek({ topic: this.settings.topic, partition, offset: offset.toString() });
    } catch (error) {
      throw new RetriableError(
        'REBALANCE_IN_PROGRESS',
        `cannot seek ${this.settings.topic}-${partition} now: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Best effort for the same reason: a restarted consumer starts unpaused and its tasks anew. */
  pause(partition: number): void {
    try {
      this.consumer.pause([{ topic: this.settings.topic, partitions: [partition] }]);
    } catch {
      // consumer restarting; see seek()
    }
  }

  resume(partition: number): void {
    try {
      this.consumer.resume([{ topic: this.settings.topic, partitions: [partition] }]);
    } catch {
      // consumer restarting; see seek()
    }
  }

  async commitOffsetOutsideTransaction(partition: number, offset: bigint): Promise<void> {
    await this.consumer.commitOffsets([{ topic: this.settings.topic, partition, offset: offset.toString() }]);
  }

  /** Stops fetching and waits for running batches to finish. */
  async stop(): Promise<void> {
    await this.consumer.stop();
  }

  async disconnect(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** The broker's fencing of a static member, as one line naming the id the two processes share. */
function namingTheInstance(error: unknown, groupInstanceId: string | undefined): unknown {
  const translated = translateKafkaError(error, 'input consumer');
  if (translated.code !== 'INSTANCE_FENCED' || groupInstanceId === undefined) return error;
  return new FatalError(
    'INSTANCE_FENCED',
    `two processes share INSTANCE_ID ${groupInstanceId}: the broker fenced this one from the input group ` +
      'when the other joined as the same static member; give each process its own INSTANCE_ID',
    { cause: error },
  );
}

/**
 * Where a read_committed reader of the partition ends: the fetch's last stable offset (kept on the batch by the
 * kafkajs patch `002`), the high watermark only if a fetch did not carry one. Behind an upstream producer
 * whose transaction is open the high watermark runs ahead, and a batch compared with it never reached the end.
 */
export function readableEnd(batch: { highWatermark: string; lastStableOffset?: string | undefined }): bigint {
  const lastStable = batch.lastStableOffset;
  // -1: a broker that does not know it (kafkajs also decodes older Fetch versions, which lack the field).
  return lastStable !== undefined && lastStable !== '-1' ? BigInt(lastStable) : BigInt(batch.highWatermark);
}

/**
 * A fetched record as the engine sees it. Its key and headers are read from kafkajs's record only when asked (a
 * dead letter's): the record decoder makes them when first read (patch 013), and reading them here for every
 * record made a Buffer view per record that nearly all records never use.
 */
class FetchedInput implements InputMessage {
  constructor(
    readonly partition: number,
    readonly offset: bigint,
    readonly value: Buffer | null,
    readonly timestampMs: number,
    private readonly record: KafkaMessage,
  ) {}

  get key(): Buffer | null {
    return this.record.key ?? null;
  }

  get headers(): InputHeaders {
    return this.record.headers ?? {};
  }
}

function toInputBatch({ batch }: EachBatchPayload): InputBatch {
  const lastOffset = BigInt(batch.lastOffset());
  return {
    topic: batch.topic,
    partition: batch.partition,
    lastOffset,
    atEnd: lastOffset + 1n >= readableEnd(batch),
    messages: batch.messages.map(
      (m) => new FetchedInput(batch.partition, recordOffset(m), m.value, recordTimestampMs(m), m),
    ),
  };
}

function toControl(payload: EachBatchPayload): BatchControl {
  return {
    heartbeat: () => payload.heartbeat(),
    resolveOffset: (offset) => {
      payload.resolveOffset(offset.toString());
    },
    isActive: () => payload.isRunning() && !payload.isStale(),
  };
}
