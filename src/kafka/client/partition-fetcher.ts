/**
 * Reads a range of one partition with Fetch requests sent straight to its leader: no consumer group. A restore
 * used to read through a throwaway group (kafkajs has no `assign()`), and every restore then paid a
 * FindCoordinator, two JoinGroups, a SyncGroup, a LeaveGroup and a DeleteGroups, plus the broker's
 * `group.initial.rebalance.delay.ms` (3 s by default) before its first record.
 *
 * Records are handed over as a kafkajs consumer would hand them: at read_committed, kafkajs's (patched) abort
 * filter drops aborted transactions (abort-filter.ts); transaction markers are never handed over. The position
 * moves past every complete record batch fetched, including batches made only of markers or aborted records and
 * batches compaction emptied (the `batchesEndOffset` the decodeMessages patch records), as the Java consumer's
 * does; a fetch that moves it nowhere is an error, never a loop.
 */
import type { Kafka } from 'kafkajs';
import { RetriableError } from '../../errors/errors.js';
import {
  createInternalCluster,
  ISOLATION_LEVEL,
  type AbortedTransaction,
  type AbortFilterMessage,
  type FetchedPartition,
  type FetchedRecord,
  type InternalCluster,
  type Isolation,
} from '../../kafkajs-internals/index.js';
import { committedRecords } from './abort-filter.js';
import { CLIENT_RETRY } from './client.js';
import { translateKafkaError } from './translate-error.js';

/**
 * Per Fetch, as the consumer fetches a partition: a task restores its partition while the others restore theirs,
 * and 4 MiB read no faster (500k records: 1.54 and 1.44 s against 1.70 and 1.31 s).
 */
const FETCH_MAX_BYTES = 1024 * 1024;

export interface PartitionRead {
  topic: string;
  partition: number;
  isolation: Isolation;
  /** First offset wanted; the log start when it is earlier (or not given). */
  from?: bigint | undefined;
  /** Stop once the position reaches this offset; records at or after it are not handed over. */
  end: bigint;
  onRecords: (records: FetchedRecord[]) => void;
  /** Called after each fetch with the position reached. */
  onProgress?: ((position: bigint) => Promise<void>) | undefined;
  /** Bytes per Fetch; smaller makes more fetches start inside a transaction (tests). */
  fetchMaxBytes?: number | undefined;
}

export async function fetchPartitionRange(kafka: Kafka, read: PartitionRead): Promise<void> {
  const cluster = createInternalCluster(kafka, { isolation: read.isolation });
  try {
    await withRetries(cluster, contextOf(read), async () => {
      await cluster.connect();
      await cluster.addTargetTopic(read.topic);
    });
    await readPartitionRange(cluster, read);
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

/**
 * The same read on a cluster the caller keeps connected between reads, with the topic among its targets (the
 * attempts journal reads its partition's tail at every task start). The cluster's isolation must be the read's:
 * it decides the end ListOffsets reports.
 */
export async function readPartitionRange(cluster: InternalCluster, read: PartitionRead): Promise<void> {
  const context = contextOf(read);
  let position = await withRetries(cluster, context, () => logStart(cluster, read));
  if (read.from !== undefined && read.from > position) position = read.from;
  while (position < read.end) {
    const from = position;
    const fetched = await withRetries(cluster, context, () => fetchAt(cluster, read, from));
    const next = nextPosition(fetched, from);
    if (next <= from) {
      throw new RetriableError(
        'KAFKA_RETRIABLE',
        `${context}: a fetch at offset ${from} returned nothing, below the end ${read.end}`,
      );
    }
    const handed = handedOver(fetched, from, read.end, read.isolation);
    if (handed.length > 0) read.onRecords(handed);
    position = next < read.end ? next : read.end;
    if (read.onProgress) await read.onProgress(position);
  }
}

function contextOf(read: PartitionRead): string {
  return `reading ${read.topic}-${read.partition}`;
}

async function logStart(cluster: InternalCluster, read: PartitionRead): Promise<bigint> {
  const [starts] = await cluster.fetchTopicsOffset([
    { topic: read.topic, partitions: [{ partition: read.partition }], fromBeginning: true },
  ]);
  const start = starts?.partitions.find((p) => p.partition === read.partition)?.offset;
  if (start === undefined) throw new Error(`topic ${read.topic} has no partition ${read.partition}`);
  return BigInt(start);
}

/** One Fetch of one partition at `offset`, from its leader as the cluster's metadata has it. */
export async function fetchAt(
  cluster: InternalCluster,
  read: Pick<PartitionRead, 'topic' | 'partition' | 'isolation' | 'fetchMaxBytes'>,
  offset: bigint,
): Promise<FetchedPartition> {
  const { topic, partition } = read;
  const [leader] = Object.keys(cluster.findLeaderForPartitions(topic, [partition]));
  if (leader === undefined)
    throw new RetriableError('LEADER_NOT_AVAILABLE', `no leader for ${topic}-${partition}`);
  const broker = await cluster.findBroker({ nodeId: leader });
  const maxBytes = read.fetchMaxBytes ?? FETCH_MAX_BYTES;
  const response = await broker.fetch({
    isolationLevel: ISOLATION_LEVEL[read.isolation],
    // Below the end everything is there already; waiting could only add latency.
    maxWaitTime: 0,
    minBytes: 1,
    maxBytes,
    topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes }] }],
  });
  const data = response.responses.flatMap((r) => r.partitions).find((p) => p.partition === partition);
  if (data === undefined) {
    throw new RetriableError('KAFKA_RETRIABLE', `the fetch of ${topic}-${partition} returned no data for it`);
  }
  return data;
}

/** Fetched records as the position arithmetic reads them; tests build them by hand. */
export type FetchedMessages<M extends AbortFilterMessage> = readonly M[] & {
  readonly batchesEndOffset?: string;
};

/**
 * Where the next fetch starts: after the last complete record batch fetched, or after its last record when the
 * decoder did not say; never before `from` (then nothing was fetched past it).
 */
export function nextPosition(
  fetched: { messages: FetchedMessages<AbortFilterMessage> },
  from: bigint,
): bigint {
  const { messages } = fetched;
  const last = messages[messages.length - 1];
  let next = from;
  if (last !== undefined && BigInt(last.offset) >= next) next = BigInt(last.offset) + 1n;
  if (messages.batchesEndOffset !== undefined) {
    const batchesEnd = BigInt(messages.batchesEndOffset);
    if (batchesEnd > next) next = batchesEnd;
  }
  return next;
}

/** The records of [from, end) a consumer at this isolation is handed, in offset order. */
export function handedOver<M extends AbortFilterMessage>(
  fetched: { messages: FetchedMessages<M>; abortedTransactions?: readonly AbortedTransaction[] },
  from: bigint,
  end: bigint,
  isolation: Isolation,
): M[] {
  const { messages } = fetched;
  // A fetch returns whole record batches: records before `from` were handed over by the previous one. Offsets
  // only rise, so only the first and the last record need parsing to know whether anything is to be cut.
  const fresh: readonly M[] = startsBefore(messages, from)
    ? messages.filter((m) => BigInt(m.offset) >= from)
    : messages;
  const visible =
    isolation === 'read_committed'
      ? committedRecords(fresh, fetched.abortedTransactions)
      : fresh.filter((m) => !m.isControlRecord);
  const last = visible[visible.length - 1];
  return last !== undefined && BigInt(last.offset) >= end
    ? visible.filter((m) => BigInt(m.offset) < end)
    : visible;
}

function startsBefore(messages: readonly AbortFilterMessage[], offset: bigint): boolean {
  const first = messages[0];
  return first !== undefined && BigInt(first.offset) < offset;
}

async function withRetries<T>(
  cluster: InternalCluster,
  context: string,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let i = 1; ; i += 1) {
    try {
      return await attempt();
    } catch (error) {
      // A leader that moved or a connection that broke: refresh the metadata and try again, as often and after
      // the same back-offs as kafkajs's own retry of the client's other calls.
      const translated = translateKafkaError(error, context);
      if (!(translated instanceof RetriableError) || i > CLIENT_RETRY.retries) throw translated;
      const backoffMs = Math.min(CLIENT_RETRY.maxRetryTime, CLIENT_RETRY.initialRetryTime * 2 ** (i - 1));
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      await cluster.refreshMetadata().catch(() => undefined);
    }
  }
}
