/**
 * Partition start and end offsets as a given isolation level sees them. kafkajs's admin.fetchTopicOffsets
 * reports one fixed isolation (read_committed: the last stable offset), and its public API has no way to ask
 * for the high watermark, which a read_uncommitted reader and the auditor need. A kafkajs cluster built through
 * kafkajs-internals takes the isolation level; kafkajs is pinned to 2.2.4 exactly, and an integration test
 * (integration/compat/offsets.test.ts) fails if this ever stops matching the broker.
 */
import type { Kafka } from 'kafkajs';
import { createInternalCluster, type Isolation } from '../../kafkajs-internals/index.js';

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
  const cluster = createInternalCluster(kafka, { isolation });
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
