/** TaskKafkaPort on kafkajs: what a task needs for its assignment steps. */
import type { Kafka } from 'kafkajs';
import { headerText, LINEAGE_HEADERS } from '../../engine/lineage.js';
import type { ChangelogRecord, ProducerPort, TaskKafkaPort } from '../../engine/ports.js';
import { StageError } from '../../errors/errors.js';
import { committedOffsets, partitionRanges } from '../client/offsets.js';
import { fetchPartitionRange } from '../client/partition-fetcher.js';
import { recordOffset, type FetchedRecord } from '../../kafkajs-internals/index.js';
import { translateKafkaError } from '../client/translate-error.js';
import { createAtLeastOnceProducer, type OffsetCommitter } from './at-least-once-producer.js';
import { createTransactionalProducer, type ProducerSettings } from '../client/transactional-producer.js';

export class KafkajsTaskPort implements TaskKafkaPort {
  /** `atLeastOnce`: PROCESSING_GUARANTEE=at_least_once, with what commits the group's offsets instead. */
  constructor(
    private readonly kafka: Kafka,
    private readonly producerSettings: ProducerSettings,
    private readonly atLeastOnce?: { commitOffset: OffsetCommitter },
  ) {}

  createProducer(transactionalId: string): Promise<ProducerPort> {
    if (this.atLeastOnce)
      return createAtLeastOnceProducer(this.kafka, transactionalId, this.atLeastOnce.commitOffset);
    return createTransactionalProducer(this.kafka, transactionalId, this.producerSettings);
  }

  async committedOffset(groupId: string, topic: string, partition: number): Promise<bigint | null> {
    try {
      return (await committedOffsets(this.kafka, groupId, topic)).get(partition) ?? null;
    } catch (error) {
      throw translateKafkaError(error, `fetching committed offset of ${topic}-${partition} for ${groupId}`);
    }
  }

  async partitionRange(
    topic: string,
    partition: number,
  ): Promise<{ start: bigint; end: bigint; highWatermark: bigint }> {
    try {
      // Both isolations: a last stable offset below the high watermark is how an open transaction shows.
      const [committed, uncommitted] = await Promise.all([
        partitionRanges(this.kafka, topic, 'read_committed'),
        partitionRanges(this.kafka, topic, 'read_uncommitted'),
      ]);
      const range = committed.get(partition);
      const highWatermark = uncommitted.get(partition)?.end;
      if (!range || highWatermark === undefined)
        throw new Error(`topic ${topic} has no partition ${partition}`);
      return { ...range, highWatermark };
    } catch (error) {
      throw translateKafkaError(error, `listing offsets of ${topic}-${partition}`);
    }
  }

  readChangelog(
    topic: string,
    partition: number,
    endOffset: bigint,
    onRecords: (records: ChangelogRecord[]) => void,
    onProgress: (position: bigint) => Promise<void>,
    fromOffset?: bigint,
  ): Promise<void> {
    return this.readPartition(
      'read_committed',
      topic,
      partition,
      endOffset,
      onRecords,
      onProgress,
      fromOffset,
    );
  }

  /** readChangelog at a chosen isolation: only a negative control reads a changelog read_uncommitted. */
  async readPartition(
    isolation: 'read_committed' | 'read_uncommitted',
    topic: string,
    partition: number,
    endOffset: bigint,
    onRecords: (records: ChangelogRecord[]) => void,
    onProgress: (position: bigint) => Promise<void>,
    fromOffset?: bigint,
  ): Promise<void> {
    await fetchPartitionRange(this.kafka, {
      topic,
      partition,
      isolation,
      from: fromOffset,
      end: endOffset,
      onRecords: (records) => {
        onRecords(records.map((m) => new FetchedChangelogRecord(m)));
      },
      onProgress,
    }).catch((error: unknown) => {
      throw error instanceof StageError
        ? error
        : translateKafkaError(error, `restoring ${topic}-${partition}`);
    });
  }
}

const NO_KEY = Buffer.alloc(0);

/**
 * A changelog record whose attempt is read from the fetched record's headers when asked for: a restore asks only
 * of the records a checkpoint's fingerprint is made of, so the headers of the others are never decoded (kafkajs
 * decodes them on first read). A getter on the class, not on each object: per-object accessors cost more than
 * the decoding saved.
 */
class FetchedChangelogRecord implements ChangelogRecord {
  readonly key: Buffer;
  readonly value: Buffer | null;
  readonly offset: bigint;

  constructor(private readonly fetched: FetchedRecord) {
    this.key = fetched.key ?? NO_KEY;
    this.value = fetched.value;
    this.offset = recordOffset(fetched);
  }

  get attempt(): string | null {
    const attempt = this.fetched.headers[LINEAGE_HEADERS.attempt];
    return attempt === undefined ? null : headerText(attempt);
  }
}
