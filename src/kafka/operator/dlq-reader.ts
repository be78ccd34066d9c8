/**
 * Reads for the `dlq` commands, read_committed: a topic from its start to the end offsets taken when the read
 * starts (the DLQ, the replay markers), record by record, with progress in offsets. Also creates the compacted
 * marker topic of `dlq replay` when it is missing.
 */
import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { FatalError } from '../../errors/errors.js';
import { partitionRanges } from '../client/offsets.js';
import { fetchPartitionRange } from '../client/partition-fetcher.js';
import { translateKafkaError } from '../client/translate-error.js';

type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RawHeaders;
}

export interface ReadProgress {
  /** Offsets read so far, over all partitions (markers and aborted records count). */
  read: bigint;
  total: bigint;
}

export interface TopicReadOptions {
  onProgress?: (progress: ReadProgress) => void;
}

/**
 * Calls `onRecord` for every record a read_committed consumer sees up to the end offsets at the start, partition
 * by partition, by Fetch requests (partition-fetcher.ts): no consumer group, so no group ACL and no
 * `group.initial.rebalance.delay.ms` before the first record.
 */
export async function readTopicRecords(
  kafka: Kafka,
  topic: string,
  onRecord: (record: TopicRecord) => void,
  options: TopicReadOptions = {},
): Promise<{ records: number }> {
  const ranges = await partitionRanges(kafka, topic, 'read_committed');
  const total = [...ranges.values()].reduce((sum, r) => sum + (r.end - r.start), 0n);
  let records = 0;
  let before = 0n;
  for (const [partition, range] of [...ranges].sort(([a], [b]) => a - b)) {
    await fetchPartitionRange(kafka, {
      topic,
      partition,
      isolation: 'read_committed',
      from: range.start,
      end: range.end,
      onRecords: (messages) => {
        for (const m of messages) {
          records += 1;
          onRecord({
            topic,
            partition,
            offset: BigInt(m.offset),
            timestampMs: Number(m.timestamp),
            key: m.key,
            value: m.value,
            headers: m.headers,
          });
        }
      },
      onProgress: (position) => {
        const read = before + position - range.start;
        options.onProgress?.({ read: read > total ? total : read, total });
        return Promise.resolve();
      },
    });
    before += range.end - range.start;
  }
  return { records };
}

/**
 * The marker topic of `dlq replay`: compacted (one marker per replayed dead letter, kept as long as the DLQ
 * keeps anything), one partition (markers are few and read whole). An existing topic is used as it is.
 */
export async function ensureMarkerTopic(
  kafka: Kafka,
  topic: string,
  replicationFactor: number,
): Promise<boolean> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    if ((await admin.listTopics()).includes(topic)) {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
      });
      const policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy');
      if (policy !== undefined && !policy.configValue.split(',').includes('compact')) {
        throw new FatalError(
          'TOPIC_INCOMPATIBLE',
          `replay marker topic ${topic} has cleanup.policy=${policy.configValue}: it must be compacted, or markers expire and records get replayed twice`,
        );
      }
      return false;
    }
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    return true;
  } catch (error) {
    throw translateKafkaError(error, `preparing the replay marker topic ${topic}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
