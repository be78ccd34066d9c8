/**
 * Topic preparation at start (DESIGN §1): the input and inventory topics must exist; output, DLQ and changelog
 * are created when missing, with explicit settings; an existing topic the stage cannot work with stops the
 * start with one clear line. Also checks TRANSACTION_TIMEOUT_MS against the broker's maximum.
 */
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import type { Config } from '../config/config.js';
import { FatalError, StageError } from '../errors/errors.js';
import { processingAttemptsTopic } from './attempt-journal.js';
import { translateKafkaError } from './translate-error.js';

export interface TopicLayout {
  inputPartitions: number;
  outputPartitions: number;
  dlqPartitions: number;
  /** `<APP_ID>-processing-attempts`: the crash-loop guard's journal. */
  attemptsTopic: string;
  created: string[];
}

async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  if (present.length === 0) return new Map();
  const metadata = await admin.fetchTopicMetadata({ topics: present });
  return new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
}

async function topicConfig(admin: Admin, topic: string, names: string[]): Promise<Map<string, string>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
  });
  return new Map((described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
}

export async function prepareTopics(kafka: Kafka, config: Config): Promise<TopicLayout> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { topics, topicSettings } = config;
    const attemptsTopic = processingAttemptsTopic(config.appId);
    const counts = await partitionCounts(admin, [
      topics.input,
      topics.inventory,
      topics.output,
      topics.dlq,
      topics.changelog,
      attemptsTopic,
    ]);
    const inputPartitions = counts.get(topics.input);
    if (inputPartitions === undefined) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `input topic ${topics.input} does not exist (INPUT_TOPIC); create it first`,
      );
    }
    if (!counts.has(topics.inventory)) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `inventory topic ${topics.inventory} does not exist (INVENTORY_TOPIC); create it first (compacted)`,
      );
    }
    const replicationFactor = topicSettings.replicationFactor;
    const wanted = [
      {
        topic: topics.output,
        configEntries: [
          { name: 'cleanup.policy', value: 'delete' },
          { name: 'retention.ms', value: String(topicSettings.outputRetentionMs) },
        ],
      },
      {
        topic: topics.dlq,
        configEntries: [
          { name: 'cleanup.policy', value: 'delete' },
          { name: 'retention.ms', value: String(topicSettings.dlqRetentionMs) },
        ],
      },
      {
        topic: topics.changelog,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          // Transactional writes are compacted only once stable; keep a little history for restores in flight.
          { name: 'min.compaction.lag.ms', value: '60000' },
          // Only closed segments are compacted; small ones keep restores short on a busy partition.
          { name: 'segment.bytes', value: String(64 * 1024 * 1024) },
          { name: 'segment.ms', value: String(3_600_000) },
        ],
      },
      {
        // One small entry per input partition, rewritten when a task starts processing after (re)initialization.
        topic: attemptsTopic,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: String(3_600_000) },
        ],
      },
    ].filter((t) => !counts.has(t.topic));
    if (wanted.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: wanted.map((t) => ({ ...t, numPartitions: inputPartitions, replicationFactor })),
      });
    }
    const changelogPartitions = counts.get(topics.changelog) ?? inputPartitions;
    if (changelogPartitions !== inputPartitions) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `changelog ${topics.changelog} has ${changelogPartitions} partitions but input ${topics.input} has ${inputPartitions}; ` +
          'they must match (each task restores its own changelog partition): recreate the changelog or use a new APP_ID',
      );
    }
    const attemptsPartitions = counts.get(attemptsTopic) ?? inputPartitions;
    if (attemptsPartitions !== inputPartitions) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `processing-attempts topic ${attemptsTopic} has ${attemptsPartitions} partitions but input ${topics.input} has ${inputPartitions}; ` +
          'they must match (each task journals in its own partition): recreate it (it holds no data that must be kept) or use a new APP_ID',
      );
    }
    const changelogPolicy =
      (await topicConfig(admin, topics.changelog, ['cleanup.policy'])).get('cleanup.policy') ?? '';
    if (!changelogPolicy.split(',').includes('compact')) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `changelog ${topics.changelog} has cleanup.policy=${changelogPolicy}; it must include compact`,
      );
    }
    return {
      inputPartitions,
      outputPartitions: counts.get(topics.output) ?? inputPartitions,
      dlqPartitions: counts.get(topics.dlq) ?? inputPartitions,
      attemptsTopic,
      created: wanted.map((t) => t.topic),
    };
  } catch (error) {
    throw error instanceof StageError ? error : translateKafkaError(error, 'preparing topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** A transaction timeout above the broker's transaction.max.timeout.ms makes every InitProducerId fail. */
export async function checkTransactionTimeout(kafka: Kafka, transactionTimeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const broker = cluster.brokers[0];
    if (!broker) return;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.BROKER,
          name: String(broker.nodeId),
          configNames: ['transaction.max.timeout.ms'],
        },
      ],
    });
    const max = Number(
      described.resources[0]?.configEntries.find((e) => e.configName === 'transaction.max.timeout.ms')
        ?.configValue,
    );
    if (Number.isFinite(max) && transactionTimeoutMs > max) {
      throw new FatalError(
        'TRANSACTION_TIMEOUT_INVALID',
        `TRANSACTION_TIMEOUT_MS=${transactionTimeoutMs} is not allowed: the broker's transaction.max.timeout.ms is ${max}`,
      );
    }
  } catch (error) {
    throw error instanceof StageError
      ? error
      : translateKafkaError(error, 'checking the broker transaction timeout');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
