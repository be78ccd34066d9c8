/**
 * The processing-attempts journal on kafkajs: a compacted topic `<APP_ID>-processing-attempts` with the input's
 * partition count, one key per input partition (`<input topic>/<partition>`) in the partition of the same
 * number, JSON values. Written outside any transaction (it must survive the transaction it guards) by one
 * idempotent producer with acks=all, awaited; read by one Fetch of the partition's last record, which is the
 * partition's only key's latest entry (no consumer group to join at every task start).
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { AttemptEntry, AttemptJournalPort } from '../engine/ports.js';
import { privateCluster } from './offsets.js';
import { translateKafkaError } from './translate-error.js';

export function processingAttemptsTopic(appId: string): string {
  return `${appId}-processing-attempts`;
}

export function attemptKey(inputTopic: string, partition: number): string {
  return `${inputTopic}/${partition}`;
}

/** What is stored: the entry, plus who wrote it and when, for an operator reading the topic. */
export function encodeAttemptEntry(entry: AttemptEntry, writer: string, atMs: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      offset: entry.offset.toString(),
      attempts: entry.attempts,
      isolated: entry.isolated,
      isolateUntil: entry.isolateUntil.toString(),
      writer,
      atMs,
    }),
    'utf8',
  );
}

const DECIMAL = /^\d{1,19}$/;

/** Undefined for a tombstone or anything unreadable: a journal that cannot be read must not stop the stage. */
export function decodeAttemptEntry(value: Buffer | null): AttemptEntry | undefined {
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { offset, attempts, isolated, isolateUntil } = parsed as Record<string, unknown>;
  if (
    typeof offset !== 'string' ||
    !DECIMAL.test(offset) ||
    typeof isolateUntil !== 'string' ||
    !DECIMAL.test(isolateUntil) ||
    typeof attempts !== 'number' ||
    !Number.isSafeInteger(attempts) ||
    attempts < 1 ||
    typeof isolated !== 'boolean'
  )
    return undefined;
  return { offset: BigInt(offset), attempts, isolated, isolateUntil: BigInt(isolateUntil) };
}

interface FetchedMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}
interface PrivateBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{
    responses: { partitions: { partition: number; errorCode: number; messages: FetchedMessage[] }[] }[];
  }>;
}
interface PrivateCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<PrivateBroker>;
  fetchTopicsOffset(
    topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/**
 * read_uncommitted on purpose, and no abort filter needed: only the idempotent producer above writes this topic,
 * never inside a transaction, so it holds no transactional record, aborted or not, and no marker. Its last
 * record is the journal's latest entry under either isolation level; read_committed would add nothing but a
 * wait behind the last stable offset if anything ever left a transaction open on it.
 */
const READ_UNCOMMITTED = 0;
/** One entry is ~150 bytes; the broker returns at least the whole batch holding the wanted offset anyway. */
const FETCH_MAX_BYTES = 64 * 1024;

export class KafkajsAttemptJournal implements AttemptJournalPort {
  private readonly producer: Producer;
  private readonly cluster: PrivateCluster;
  private connected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly inputTopic: string,
    private readonly writer: string,
  ) {
    this.producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.cluster = privateCluster(kafka, 'read_uncommitted') as PrivateCluster;
  }

  async read(partition: number): Promise<AttemptEntry | undefined> {
    try {
      await this.connect();
      const [ends] = await this.cluster.fetchTopicsOffset([
        { topic: this.topic, partitions: [{ partition }], fromBeginning: false },
      ]);
      const end = BigInt(ends?.partitions.find((p) => p.partition === partition)?.offset ?? '0');
      if (end === 0n) return undefined;
      const lastOffset = (end - 1n).toString();
      const [nodeId] = Object.entries(this.cluster.findLeaderForPartitions(this.topic, [partition])).map(
        ([id]) => id,
      );
      if (nodeId === undefined) throw new Error(`no leader for ${this.topic}-${partition}`);
      const broker = await this.cluster.findBroker({ nodeId });
      const response = await broker.fetch({
        isolationLevel: READ_UNCOMMITTED,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        topics: [
          {
            topic: this.topic,
            partitions: [{ partition, fetchOffset: lastOffset, maxBytes: FETCH_MAX_BYTES }],
          },
        ],
      });
      const message = response.responses
        .flatMap((r) => r.partitions)
        .find((p) => p.partition === partition)
        ?.messages.find((m) => m.offset === lastOffset);
      // Another key there (the input topic was renamed under the same APP_ID): no entry of ours.
      if (message?.key?.toString('utf8') !== attemptKey(this.inputTopic, partition)) return undefined;
      return decodeAttemptEntry(message.value);
    } catch (error) {
      // Leadership may have moved: look again next time.
      await this.cluster.refreshMetadata().catch(() => undefined);
      throw translateKafkaError(error, `reading ${this.topic}-${partition}`);
    }
  }

  async write(partition: number, entry: AttemptEntry | null): Promise<void> {
    try {
      await this.connect();
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: [
          {
            partition,
            key: attemptKey(this.inputTopic, partition),
            value: entry ? encodeAttemptEntry(entry, this.writer, Date.now()) : null,
          },
        ],
      });
    } catch (error) {
      throw translateKafkaError(error, `writing ${this.topic}-${partition}`);
    }
  }

  async close(): Promise<void> {
    const wasConnected = this.connected;
    this.connected = undefined;
    if (!wasConnected) return;
    await Promise.all([
      this.producer.disconnect().catch(() => undefined),
      this.cluster.disconnect().catch(() => undefined),
    ]);
  }

  private connect(): Promise<void> {
    this.connected ??= (async () => {
      await Promise.all([this.producer.connect(), this.cluster.connect()]);
      await this.cluster.addTargetTopic(this.topic);
    })().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }
}
