import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage, type RetryOptions } from 'kafkajs';
import { readToEnd } from '../../src/kafka/client/topic-reader.js';
import type { TestEnvironment } from './environment.js';

/** Unique per test: topics, groups and transactional ids never collide across tests or reruns. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Where a Kafka producer's default partitioner puts a key, computed by kafkajs's own DefaultPartitioner (murmur2,
 * as the Java client), not by the stage's: tests place their input records with it.
 */
export function producerPartitionOf(partitionCount: number): (key: Buffer) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));
  return (key) => partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

/** The tests' client retries: patient, for setup and checks that must not fail on a broker's hiccup. */
const TEST_RETRY: RetryOptions = { retries: 8, initialRetryTime: 50, maxRetryTime: 2000 };

export function testKafka(
  env: TestEnvironment,
  clientId = 'eos-rollup-test',
  retry: RetryOptions = TEST_RETRY,
): Kafka {
  return new Kafka({
    brokers: env.brokers.split(','),
    clientId,
    logLevel: logLevel.NOTHING,
    retry,
  });
}

export async function withAdmin<T>(kafka: Kafka, action: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await action(admin);
  } finally {
    await admin.disconnect();
  }
}

export async function createTopics(
  kafka: Kafka,
  topics: { topic: string; partitions: number }[],
): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({
      topics: topics.map(({ topic, partitions }) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
      })),
      waitForLeaders: true,
    });
  });
}

export async function createTopicsWithConfig(
  kafka: Kafka,
  topics: { topic: string; partitions: number; config: Record<string, string> }[],
): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({
      topics: topics.map(({ topic, partitions, config }) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
      })),
      waitForLeaders: true,
    });
  });
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaMessage['headers'];
}

/** Every record of a topic up to its current end, as a read_committed (default) or read_uncommitted consumer sees it. */
export async function readAll(
  kafka: Kafka,
  topic: string,
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<{ records: ReadRecord[]; complete: boolean }> {
  const records: ReadRecord[] = [];
  const result = await readToEnd(kafka, {
    topic,
    groupIdPrefix: 'eos-rollup-test-reader',
    readUncommitted: options.readUncommitted ?? false,
    timeoutMs: options.timeoutMs ?? 30_000,
    onMessages: (partition, messages) => {
      for (const m of messages) {
        records.push({ partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers });
      }
    },
  });
  return { records, complete: result.complete };
}

export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, string>> {
  return withAdmin(kafka, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, p.offset]));
  });
}
