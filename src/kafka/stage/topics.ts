/**
 * Topic preparation at start (design §1): the input and inventory topics must exist; output, DLQ and changelog
 * are created when missing, with explicit settings; an existing topic the stage cannot work with stops the
 * start with one clear line. Also checks TRANSACTION_TIMEOUT_MS against the broker's maximum.
 */
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import type { StageTopicLayout } from '../../engine/stage-ports.js';
import type { Config } from '../../config/config.js';
import { FatalError, StageError } from '../../errors/errors.js';
import { processingAttemptsTopic } from './attempt-journal.js';
import { translateKafkaError } from '../client/translate-error.js';

/** What start-up found and made: the engine's StageTopicLayout. */
export type TopicLayout = StageTopicLayout;

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

/** The topics start-up reads, creates or checks, with the partition counts of those that exist. */
interface TopicCounts {
  attemptsTopic: string;
  counts: Map<string, number>;
}

async function countTopics(admin: Admin, config: Config): Promise<TopicCounts> {
  const { topics } = config;
  const attemptsTopic = processingAttemptsTopic(config.appId);
  const counts = await partitionCounts(admin, [
    topics.input,
    topics.inventory,
    topics.output,
    topics.dlq,
    topics.changelog,
    attemptsTopic,
  ]);
  return { attemptsTopic, counts };
}

/** The topics the stage reads but never creates; each missing one is a problem naming its variable. */
function missingSourceTopics(config: Config, counts: Map<string, number>, readsInventory: boolean): string[] {
  const { topics } = config;
  return [
    counts.has(topics.input)
      ? ''
      : `input topic ${topics.input} does not exist (INPUT_TOPIC); create it first`,
    !readsInventory || counts.has(topics.inventory)
      ? ''
      : `inventory topic ${topics.inventory} does not exist (INVENTORY_TOPIC); create it first (compacted)`,
  ].filter((p) => p !== '');
}

/**
 * Problems of the per-partition topics, judged on existing ones only (a missing one is created with the input's
 * partition count): both must have the input's partition count and the changelog must be compacted.
 */
function stateTopicProblems(
  config: Config,
  { attemptsTopic, counts }: TopicCounts,
  inputPartitions: number,
  changelogPolicy: string | undefined,
): string[] {
  const { topics } = config;
  const problems: string[] = [];
  const changelogPartitions = counts.get(topics.changelog) ?? inputPartitions;
  if (changelogPartitions !== inputPartitions) {
    problems.push(
      `changelog ${topics.changelog} has ${changelogPartitions} partitions but input ${topics.input} has ${inputPartitions}; ` +
        'they must match (each task restores its own changelog partition): recreate the changelog or use a new APP_ID',
    );
  }
  const attemptsPartitions = counts.get(attemptsTopic) ?? inputPartitions;
  if (attemptsPartitions !== inputPartitions) {
    problems.push(
      `processing-attempts topic ${attemptsTopic} has ${attemptsPartitions} partitions but input ${topics.input} has ${inputPartitions}; ` +
        'they must match (each task journals in its own partition): recreate it (it holds no data that must be kept) or use a new APP_ID',
    );
  }
  if (changelogPolicy !== undefined && !changelogPolicy.split(',').includes('compact')) {
    problems.push(
      `changelog ${topics.changelog} has cleanup.policy=${changelogPolicy}; it must include compact`,
    );
  }
  return problems;
}

async function cleanupPolicy(admin: Admin, topic: string): Promise<string> {
  return (await topicConfig(admin, topic, ['cleanup.policy'])).get('cleanup.policy') ?? '';
}

/**
 * What start-up would refuse about the topics, found without creating or changing anything: the problems, each
 * one line naming its variable or topic (an empty list: start-up would go ahead).
 */
export async function inspectTopics(kafka: Kafka, config: Config): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const found = await countTopics(admin, config);
    const missing = missingSourceTopics(config, found.counts, true);
    const inputPartitions = found.counts.get(config.topics.input);
    if (inputPartitions === undefined) return missing;
    const changelogPolicy = found.counts.has(config.topics.changelog)
      ? await cleanupPolicy(admin, config.topics.changelog)
      : undefined;
    return [...missing, ...stateTopicProblems(config, found, inputPartitions, changelogPolicy)];
  } catch (error) {
    throw translateKafkaError(error, 'inspecting topics');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** `readsInventory` false: a job without the inventory table does not need its topic (default true). */
export async function prepareTopics(
  kafka: Kafka,
  config: Config,
  { readsInventory }: { readsInventory: boolean } = { readsInventory: true },
): Promise<TopicLayout> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { topics, topicSettings } = config;
    const found = await countTopics(admin, config);
    const { attemptsTopic, counts } = found;
    const [missing] = missingSourceTopics(config, counts, readsInventory);
    const inputPartitions = counts.get(topics.input);
    if (missing !== undefined || inputPartitions === undefined) {
      throw new FatalError('TOPIC_INCOMPATIBLE', missing ?? `input topic ${topics.input} does not exist`);
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
          // Only closed segments are compacted: small ones, rolled every 10 minutes, let compaction run during a
          // run, and a low dirty ratio starts it early. A restore then reads little more than the live state.
          { name: 'segment.bytes', value: String(16 * 1024 * 1024) },
          { name: 'segment.ms', value: String(600_000) },
          { name: 'min.cleanable.dirty.ratio', value: '0.1' },
          // A closed window's tombstone outlives its value by this long, then goes: every window key ends in
          // one, so a day's worth (the default) would be most of what a restore reads. A restore takes seconds.
          { name: 'delete.retention.ms', value: String(900_000) },
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
    // Topics just created have the input's partition count; the changelog's policy is read as it now stands.
    const changelog = await topicConfig(admin, topics.changelog, ['cleanup.policy', 'delete.retention.ms']);
    const changelogPolicy = changelog.get('cleanup.policy') ?? '';
    const [problem] = stateTopicProblems(config, found, inputPartitions, changelogPolicy);
    if (problem !== undefined) throw new FatalError('TOPIC_INCOMPATIBLE', problem);
    const deleteRetention = Number(changelog.get('delete.retention.ms') ?? Number.NaN);
    return {
      inputPartitions,
      outputPartitions: counts.get(topics.output) ?? inputPartitions,
      dlqPartitions: counts.get(topics.dlq) ?? inputPartitions,
      attemptsTopic,
      created: wanted.map((t) => t.topic),
      // How long a checkpoint may be trusted depends on it (engine/state-checkpoint.ts).
      changelogDeleteRetentionMs: Number.isSafeInteger(deleteRetention) ? deleteRetention : undefined,
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
