/**
 * The consumer group's lag on the input topic, read from the broker for observability/lag-monitor.ts:
 * - log start and last stable offset per partition (ListOffsets, read_committed);
 * - the group's committed offsets (OffsetFetch);
 * - for each partition with lag, the timestamp of the first record at the committed offset, by one small Fetch
 *   (read_committed, no wait) per partition, so lag in seconds is the age of the oldest unread record;
 * - the input's retention.ms (DescribeConfigs, cached), which lag in seconds must stay well below.
 * kafkajs has no public call for a fetch at a given offset without joining a group, so, like client/offsets.ts,
 * this uses a cluster from kafkajs-internals (kafkajs is pinned to 2.2.4), and fetches as the partition fetcher
 * does; connections are kept between lookups.
 */
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import {
  createInternalCluster,
  type AbortFilterMessage,
  type AbortedTransaction,
  type FetchedRecord,
  type InternalCluster,
} from '../../kafkajs-internals/index.js';
import { translateKafkaError } from '../client/translate-error.js';
import { fetchAt, handedOver, nextPosition, type FetchedMessages } from '../client/partition-fetcher.js';
import { LazyConnection } from '../client/lazy-connection.js';

/** Per request: the broker still returns the whole first record batch, however large (KIP-74). */
const FETCH_PARTITION_MAX_BYTES = 1024;
/** A batch of markers or aborted records at the position: look once more, past it. */
const MAX_FETCHES_PER_PARTITION = 3;
/** The input's retention.ms changes rarely; it is read again after this long. */
const RETENTION_CACHE_MS = 5 * 60_000;

export interface PartitionOffsetsSample {
  partition: number;
  logStartOffset: bigint;
  lastStableOffset: bigint;
  committedOffset: bigint | null;
  oldestUnreadTimestampMs: number | null;
}

/** What the oldest-unread lookup reads of a fetched record; tests build such records by hand. */
export type TimestampedRecord = AbortFilterMessage & Pick<FetchedRecord, 'timestamp'>;

export class KafkaLagReader {
  private readonly cluster: InternalCluster;
  private readonly admin: Admin;
  private readonly connection = new LazyConnection(
    async () => {
      await Promise.all([this.cluster.connect(), this.admin.connect()]);
      await this.cluster.addTargetTopic(this.topic);
    },
    async () => {
      await Promise.all([
        this.cluster.disconnect().catch(() => undefined),
        this.admin.disconnect().catch(() => undefined),
      ]);
    },
  );
  private clusterId: string | undefined;
  private retention: { readAtMs: number; retentionMs: number | null } | undefined;

  constructor(
    kafka: Kafka,
    private readonly groupId: string,
    private readonly topic: string,
  ) {
    this.cluster = createInternalCluster(kafka, { isolation: 'read_committed' });
    this.admin = kafka.admin();
  }

  async read(
    partitions: readonly number[],
  ): Promise<{ clusterName: string; retentionMs: number | null; partitions: PartitionOffsetsSample[] }> {
    try {
      await this.connect();
      await this.cluster.refreshMetadataIfNecessary();
      const wanted = partitions.map((partition) => ({ partition }));
      const [ends, starts, committed] = await Promise.all([
        this.cluster.fetchTopicsOffset([{ topic: this.topic, partitions: wanted, fromBeginning: false }]),
        this.cluster.fetchTopicsOffset([{ topic: this.topic, partitions: wanted, fromBeginning: true }]),
        this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
      ]);
      const endOf = offsetsByPartition(ends[0]?.partitions ?? []);
      const startOf = offsetsByPartition(starts[0]?.partitions ?? []);
      const committedOf = offsetsByPartition(committed[0]?.partitions ?? []);
      const samples = partitions.map((partition): PartitionOffsetsSample => {
        const logStartOffset = startOf.get(partition) ?? 0n;
        const offset = committedOf.get(partition);
        return {
          partition,
          logStartOffset,
          lastStableOffset: endOf.get(partition) ?? logStartOffset,
          committedOffset: offset === undefined || offset < 0n ? null : offset,
          oldestUnreadTimestampMs: null,
        };
      });
      await this.readOldestTimestamps(samples);
      this.clusterId ??= (await this.admin.describeCluster()).clusterId;
      return { clusterName: this.clusterId, retentionMs: await this.retentionMs(), partitions: samples };
    } catch (error) {
      // Leadership may have moved: look again next time.
      await this.cluster.refreshMetadata().catch(() => undefined);
      throw translateKafkaError(error, `reading the lag of ${this.groupId} on ${this.topic}`);
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** The input's retention.ms; null when infinite or not readable (no DescribeConfigs ACL): not worth failing for. */
  private async retentionMs(): Promise<number | null> {
    if (this.retention && Date.now() - this.retention.readAtMs < RETENTION_CACHE_MS)
      return this.retention.retentionMs;
    let retentionMs: number | null = null;
    try {
      const described = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: this.topic, configNames: ['retention.ms'] }],
      });
      const value = described.resources[0]?.configEntries.find(
        (e) => e.configName === 'retention.ms',
      )?.configValue;
      const parsed = value === undefined ? NaN : Number(value);
      retentionMs = Number.isFinite(parsed) && parsed >= 0 ? parsed : null;
    } catch {
      retentionMs = null;
    }
    this.retention = { readAtMs: Date.now(), retentionMs };
    return retentionMs;
  }

  private connect(): Promise<void> {
    return this.connection.ensure();
  }

  /**
   * Fills in oldestUnreadTimestampMs of the samples with lag: one small fetch per partition and round. Never
   * several partitions in one request: the broker returns a record batch larger than the partition's limit only
   * for the first partition of a request (KIP-74), so the others would come back empty and their age unknown.
   */
  private async readOldestTimestamps(samples: PartitionOffsetsSample[]): Promise<void> {
    await Promise.all(
      samples.map(async (sample) => {
        const { partition, lastStableOffset } = sample;
        const committed = sample.committedOffset ?? sample.logStartOffset;
        let position = committed < sample.logStartOffset ? sample.logStartOffset : committed;
        for (let round = 0; round < MAX_FETCHES_PER_PARTITION && position < lastStableOffset; round++) {
          const fetched = await fetchAt(
            this.cluster,
            {
              topic: this.topic,
              partition,
              isolation: 'read_committed',
              fetchMaxBytes: FETCH_PARTITION_MAX_BYTES,
            },
            position,
          );
          const found = firstReadableRecord(fetched, position, lastStableOffset);
          if (found.timestampMs !== undefined) {
            sample.oldestUnreadTimestampMs = found.timestampMs;
            return;
          }
          if (found.nextPosition === undefined) return;
          position = found.nextPosition;
        }
      }),
    );
  }
}

/**
 * The first data record in [position, end) that a read_committed consumer would be handed, as the partition
 * fetcher decides (kafkajs's patched abort filter; no transaction marker). Otherwise, where to look next: past
 * every complete batch this fetch returned, including batches of markers, of aborted records, or emptied by
 * compaction.
 */
export function firstReadableRecord(
  fetched: {
    messages: FetchedMessages<TimestampedRecord>;
    abortedTransactions?: readonly AbortedTransaction[];
  },
  position: bigint,
  end: bigint,
): { timestampMs?: number; nextPosition?: bigint } {
  const readable = handedOver(fetched, position, end, 'read_committed')[0];
  if (readable) return { timestampMs: Number(readable.timestamp) };
  const next = nextPosition(fetched, position);
  return next > position ? { nextPosition: next } : {};
}

function offsetsByPartition(entries: readonly { partition: number; offset: string }[]): Map<number, bigint> {
  return new Map(entries.map((p) => [p.partition, BigInt(p.offset)]));
}
