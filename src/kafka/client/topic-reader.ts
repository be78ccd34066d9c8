/**
 * Reads partitions of a topic from their start up to given end offsets, with a throwaway consumer group that
 * never commits. kafkajs has no `assign()`, so a private group is the only public way to read a partition from
 * the beginning; the group is deleted afterwards.
 *
 * Positions come from END_BATCH_PROCESS events, not from the messages handed to eachBatch: a batch made only of
 * transaction markers or aborted records never reaches eachBatch, yet it moves the position (kafkajs resolves
 * it internally), and a changelog written in transactions always ends with such a marker.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { partitionRanges } from './offsets.js';

export interface ReadOptions {
  topic: string;
  /** Partitions to read; others are paused and ignored. Default: all. */
  partitions?: number[];
  /** Stop each partition once its position reaches this offset. Default: its end at start, as the isolation level sees it (last stable offset or high watermark). */
  endOffsets?: ReadonlyMap<number, bigint>;
  /** Start each partition here instead of at its log start (a restore that needs only the tail). */
  startOffsets?: ReadonlyMap<number, bigint> | undefined;
  readUncommitted?: boolean;
  groupIdPrefix?: string;
  /** Give up (complete = false) after this long. */
  timeoutMs?: number;
  onMessages: (partition: number, messages: KafkaMessage[]) => void | Promise<void>;
  /** Called between batches so a long restore keeps the caller's group membership alive. */
  onProgress?: (partition: number, position: bigint, end: bigint) => void | Promise<void>;
}

export interface ReadResult {
  complete: boolean;
  positions: Map<number, bigint>;
  endOffsets: Map<number, bigint>;
}

export async function readToEnd(kafka: Kafka, options: ReadOptions): Promise<ReadResult> {
  const ranges = await partitionRanges(
    kafka,
    options.topic,
    options.readUncommitted ? 'read_uncommitted' : 'read_committed',
  );
  const wanted = options.partitions ?? [...ranges.keys()];
  const endOffsets = new Map<number, bigint>();
  const positions = new Map<number, bigint>();
  for (const partition of wanted) {
    const range = ranges.get(partition);
    if (!range) throw new Error(`topic ${options.topic} has no partition ${partition}`);
    endOffsets.set(partition, options.endOffsets?.get(partition) ?? range.end);
    const from = options.startOffsets?.get(partition);
    positions.set(partition, from !== undefined && from > range.start ? from : range.start);
  }
  const pending = new Set(wanted.filter((p) => (positions.get(p) ?? 0n) < (endOffsets.get(p) ?? 0n)));
  if (pending.size === 0) return { complete: true, positions, endOffsets };

  const groupId = `${options.groupIdPrefix ?? 'eos-rollup-reader'}-${randomUUID()}`;
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: options.readUncommitted ?? false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  let finish: (complete: boolean) => void = () => undefined;
  const finished = new Promise<boolean>((resolve) => {
    finish = resolve;
  });
  const others = [...ranges.keys()].filter((p) => !wanted.includes(p));
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (others.length > 0) consumer.pause([{ topic: options.topic, partitions: others }]);
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const { partition, lastOffset } = event.payload;
    if (!pending.has(partition)) return;
    const position = BigInt(lastOffset) + 1n;
    positions.set(partition, position);
    const end = endOffsets.get(partition) ?? 0n;
    if (position >= end) pending.delete(partition);
    if (pending.size === 0) finish(true);
  });
  let failure: unknown;
  const timer = setTimeout(() => {
    finish(false);
  }, options.timeoutMs ?? 60_000);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    const seeks = wanted.filter((p) => options.startOffsets?.has(p) === true);
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!pending.has(batch.partition) || failure !== undefined) return;
        const end = endOffsets.get(batch.partition) ?? 0n;
        const inRange = batch.messages.filter((m) => BigInt(m.offset) < end);
        try {
          if (inRange.length > 0) await options.onMessages(batch.partition, inRange);
          await options.onProgress?.(batch.partition, BigInt(batch.lastOffset()) + 1n, end);
        } catch (error) {
          // The caller's failure ends the read at once; kafkajs would otherwise retry the batch forever.
          failure = error;
          finish(false);
          return;
        }
        await payload.heartbeat();
      },
    });
    // kafkajs applies a seek made right after run() to the partition's first fetch, once it is assigned.
    for (const partition of seeks) {
      consumer.seek({ topic: options.topic, partition, offset: String(positions.get(partition) ?? 0n) });
    }
    const complete = await finished;
    if (failure !== undefined)
      throw failure instanceof Error ? failure : new Error('reading failed', { cause: failure });
    return { complete, positions, endOffsets };
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroupQuietly(kafka, groupId);
  }
}

async function deleteGroupQuietly(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // A leftover empty group without offsets is harmless and expires on its own.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
