/**
 * Broker-side progress of a consumer group: the sum of its committed offsets over the input's partitions and the
 * sum of the input's end offsets, read with the admin API (OffsetFetch, ListOffsets) from the harness process,
 * never from the peer's own counters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';

/** The sum of committed offsets over partitions: a group's progress on a topic. */
export function totalCommitted(byPartition: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const offset of byPartition.values()) total += offset;
  return total;
}

export class OffsetProbe {
  private constructor(private readonly admin: Admin) {}

  static async connect(kafka: Kafka): Promise<OffsetProbe> {
    const admin = kafka.admin();
    await admin.connect();
    return new OffsetProbe(admin);
  }

  /** Committed offsets of `groupId` on `topic` by partition; -1 (none yet) counts as 0. */
  async committedByPartition(groupId: string, topic: string): Promise<Map<number, number>> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(
      (entry?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))] as const),
    );
  }

  async committed(groupId: string, topic: string): Promise<number> {
    return totalCommitted(await this.committedByPartition(groupId, topic));
  }

  /** High watermarks summed: for a topic without transactions, the number of records ever written. */
  async endOffset(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((total, p) => total + Number(p.high), 0);
  }

  async deleteTopics(topics: string[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await this.admin.deleteTopics({ topics: present, timeout: 30_000 });
  }

  /**
   * Creates `topic` unless it exists, and waits until every partition has a leader. A busy broker can answer the
   * first metadata request for a new topic with UNKNOWN_TOPIC_OR_PARTITION, which kafkajs' own wait does not
   * retry, so the wait is here.
   */
  async createTopic(
    topic: string,
    partitions: number,
    configEntries: { name: string; value: string }[] = [],
  ): Promise<void> {
    if (!(await this.admin.listTopics()).includes(topic)) {
      await this.admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }],
        waitForLeaders: false,
      });
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
        const found = topics[0]?.partitions ?? [];
        if (found.length === partitions && found.every((p) => p.leader >= 0)) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`topic ${topic} has no leader for every partition after 30 s`);
      await sleep(200);
    }
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  /** Deletes every topic and consumer group whose name starts with `prefix`: a run's leftovers. */
  async deleteEverything(prefix: string): Promise<void> {
    await this.deleteTopics((await this.admin.listTopics()).filter((t) => t.startsWith(prefix)));
    const { groups } = await this.admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (ours.length > 0) await this.admin.deleteGroups(ours).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
