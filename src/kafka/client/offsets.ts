/**
 * Partition start and end offsets as a given isolation level sees them. kafkajs's admin.fetchTopicOffsets
 * reports one fixed isolation (read_committed: the last stable offset), and its public API has no way to ask
 * for the high watermark, which a read_uncommitted reader and the auditor need. The Kafka object's private
 * cluster factory takes the isolation level; kafkajs is pinned to 2.2.4 exactly, and an integration test
 * (integration/compat/offsets.test.ts) fails if this ever stops matching the broker.
 */
import type { Kafka } from 'kafkajs';

export type Isolation = 'read_committed' | 'read_uncommitted';

interface PartitionOffset {
  partition: number;
  offset: string;
}
interface PrivateCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(
    topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[],
  ): Promise<{ topic: string; partitions: PartitionOffset[] }[]>;
}
type ClusterFactory = (options: { isolationLevel: number; allowAutoTopicCreation: boolean }) => unknown;

const ISOLATION_LEVEL: Record<Isolation, number> = { read_uncommitted: 0, read_committed: 1 };

/**
 * A kafkajs Cluster with the given isolation level, through the Kafka object's private factory. Untyped: each
 * caller (all in src/kafka, all covered by integration tests against the real broker) names the part of the
 * Cluster API it uses.
 */
export function privateCluster(kafka: Kafka, isolation: Isolation): unknown {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  if (!symbol)
    throw new Error('kafkajs internals changed: no private:Kafka:createCluster (is kafkajs still 2.2.4?)');
  const factory = (kafka as unknown as Record<symbol, ClusterFactory>)[symbol];
  if (typeof factory !== 'function')
    throw new Error('kafkajs internals changed: createCluster is not a function');
  return factory({ isolationLevel: ISOLATION_LEVEL[isolation], allowAutoTopicCreation: false });
}

export interface PartitionRange {
  /** Log start offset. */
  start: bigint;
  /** Last stable offset (read_committed) or high watermark (read_uncommitted). */
  end: bigint;
}

export async function partitionRanges(
  kafka: Kafka,
  topic: string,
  isolation: Isolation,
): Promise<Map<number, PartitionRange>> {
  const cluster = privateCluster(kafka, isolation) as PrivateCluster;
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const query = (fromBeginning: boolean) =>
      cluster.fetchTopicsOffset([{ topic, partitions, fromBeginning }]);
    const [starts, ends] = await Promise.all([query(true), query(false)]);
    const startOf = new Map((starts[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    return new Map(
      (ends[0]?.partitions ?? []).map((p) => [
        p.partition,
        { start: startOf.get(p.partition) ?? 0n, end: BigInt(p.offset) },
      ]),
    );
  } finally {
    await cluster.disconnect();
  }
}

/** The group's committed offset per partition of `topic`; null where the group has none. */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint | null>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(
      (entry?.partitions ?? []).map((p) => [p.partition, p.offset === '-1' ? null : BigInt(p.offset)]),
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
