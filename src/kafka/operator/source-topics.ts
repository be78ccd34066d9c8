/**
 * The topics the stage reads but does not create (design §1): the input (delete policy) and the inventory
 * (compacted). `eos-rollup topics create` makes them when missing and reports what an existing one looks like;
 * it never alters an existing topic.
 */
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { translateKafkaError } from '../client/translate-error.js';

export type CleanupPolicy = 'delete' | 'compact';

export interface SourceTopicSpec {
  topic: string;
  cleanupPolicy: CleanupPolicy;
}

export interface TopicCreation {
  partitions: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
}

export interface SourceTopicState {
  topic: string;
  created: boolean;
  partitions: number;
  /** As the broker reports it, e.g. `delete`, `compact` or `compact,delete`. */
  cleanupPolicy: string;
}

export async function ensureSourceTopics(
  kafka: Kafka,
  specs: readonly SourceTopicSpec[],
  creation: TopicCreation,
): Promise<SourceTopicState[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: creation.partitions,
          replicationFactor: creation.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: s.cleanupPolicy }],
        })),
      });
    }
    const created = new Set(missing.map((s) => s.topic));
    return await Promise.all(
      specs.map(async (s) => ({
        topic: s.topic,
        created: created.has(s.topic),
        ...(await describe(admin, s.topic)),
      })),
    );
  } catch (error) {
    throw translateKafkaError(error, 'creating the input and inventory topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The topics among `topics` that do not exist; writers check first, as kafkajs would retry a missing one forever. */
export async function missingTopics(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    return topics.filter((t) => !existing.has(t));
  } catch (error) {
    throw translateKafkaError(error, 'listing topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function describe(admin: Admin, topic: string): Promise<{ partitions: number; cleanupPolicy: string }> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
  });
  const policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy');
  return { partitions: metadata.topics[0]?.partitions.length ?? 0, cleanupPolicy: policy?.configValue ?? '' };
}
