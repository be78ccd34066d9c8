/**
 * The processing-attempts journal on kafkajs: a compacted topic `<APP_ID>-processing-attempts` with the input's
 * partition count, one key per input partition (`<input topic>/<partition>`) in the partition of the same
 * number, JSON values. Written outside any transaction (it must survive the transaction it guards) by one
 * idempotent producer with acks=all, awaited; its partition's tail is read by Fetch requests to the leader
 * (partition-fetcher.ts: no consumer group to join at every task start, and past the batches compaction emptied,
 * which a fetch at the end of a cleaned segment returns alone), folded in order: entries and tombstones replace, a release takes back only the
 * entry it names (attempt-ownership.ts). The partition holds one key only, so its tail is that key's history.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { currentAttempt, type JournalRecord } from '../../engine/attempt-ownership.js';
import type { AttemptEntry, AttemptJournalPort, AttemptStamp, JournaledAttempt } from '../../engine/ports.js';
import { createInternalCluster, type InternalCluster } from '../../kafkajs-internals/index.js';
import { readPartitionRange } from '../client/partition-fetcher.js';
import { translateKafkaError } from '../client/translate-error.js';
import { LazyConnection } from '../client/lazy-connection.js';

export function processingAttemptsTopic(appId: string): string {
  return `${appId}-processing-attempts`;
}

export function attemptKey(inputTopic: string, partition: number): string {
  return `${inputTopic}/${partition}`;
}

function entryFields(entry: AttemptEntry, stamp: AttemptStamp | undefined): Record<string, unknown> {
  return {
    offset: entry.offset.toString(),
    attempts: entry.attempts,
    isolated: entry.isolated,
    isolateUntil: entry.isolateUntil.toString(),
    ...(stamp ? { owner: stamp.owner, seq: stamp.seq } : {}),
  };
}

/** What is stored: the entry and its stamp, plus who wrote it and when, for an operator reading the topic. */
export function encodeAttemptEntry(
  entry: AttemptEntry,
  writer: string,
  atMs: number,
  stamp?: AttemptStamp,
): Buffer {
  return Buffer.from(JSON.stringify({ ...entryFields(entry, stamp), writer, atMs }), 'utf8');
}

/** A release: `own` taken back, `restore` (or no entry) in its place. */
export function encodeAttemptRelease(
  own: AttemptStamp,
  restore: JournaledAttempt | undefined,
  writer: string,
  atMs: number,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      release: { owner: own.owner, seq: own.seq },
      restore: restore ? entryFields(restore.entry, restore.stamp) : null,
      writer,
      atMs,
    }),
    'utf8',
  );
}

const DECIMAL = /^\d{1,19}$/;

/** Undefined for a tombstone, a release or anything unreadable: a journal that cannot be read must not stop the stage. */
export function decodeAttemptEntry(value: Buffer | null): AttemptEntry | undefined {
  const record = decodeJournalRecord(value);
  return record.kind === 'entry' ? record.attempt.entry : undefined;
}

/** One journal record; anything unreadable counts as a clear (no entry), as a tombstone does. */
export function decodeJournalRecord(value: Buffer | null): JournalRecord {
  if (!value) return { kind: 'clear' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return { kind: 'clear' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { kind: 'clear' };
  const fields = parsed as Record<string, unknown>;
  if ('release' in fields) {
    const own = parseStamp(fields.release);
    if (!own) return { kind: 'clear' };
    const restore = fields.restore === null ? undefined : parseAttempt(fields.restore);
    if (fields.restore !== null && !restore) return { kind: 'clear' };
    return { kind: 'release', own, restore };
  }
  const attempt = parseAttempt(fields);
  return attempt ? { kind: 'entry', attempt } : { kind: 'clear' };
}

function parseStamp(value: unknown): AttemptStamp | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { owner, seq } = value as Record<string, unknown>;
  if (typeof owner !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq)) return undefined;
  return { owner, seq };
}

function parseAttempt(value: unknown): JournaledAttempt | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = parseEntry(value as Record<string, unknown>);
  if (!entry) return undefined;
  const stamp = parseStamp(value);
  return stamp ? { entry, stamp } : { entry };
}

function parseEntry(fields: Record<string, unknown>): AttemptEntry | undefined {
  const { offset, attempts, isolated, isolateUntil } = fields;
  if (
    typeof offset !== 'string' ||
    !DECIMAL.test(offset) ||
    typeof isolateUntil !== 'string' ||
    !DECIMAL.test(isolateUntil) ||
    typeof attempts !== 'number' ||
    !Number.isSafeInteger(attempts) ||
    // Zero only isolated: the record was processed alone since, without a crash (the range stays isolated).
    attempts < (isolated === true ? 0 : 1) ||
    typeof isolated !== 'boolean'
  )
    return undefined;
  return { offset: BigInt(offset), attempts, isolated, isolateUntil: BigInt(isolateUntil) };
}

/** One record is ~250 bytes; the broker returns at least the whole batch holding the wanted offset anyway. */
const FETCH_MAX_BYTES = 64 * 1024;
/**
 * How far back a read folds: each entry is followed by at most one release, so the tail holds the current
 * entry unless dozens of owners journaled and released at once.
 */
const TAIL_RECORDS = 64n;

export class KafkajsAttemptJournal implements AttemptJournalPort {
  private readonly producer: Producer;
  private readonly cluster: InternalCluster;
  private readonly connection = new LazyConnection(
    async () => {
      await Promise.all([this.producer.connect(), this.cluster.connect()]);
      await this.cluster.addTargetTopic(this.topic);
    },
    async () => {
      await Promise.all([
        this.producer.disconnect().catch(() => undefined),
        this.cluster.disconnect().catch(() => undefined),
      ]);
    },
  );

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
    // read_uncommitted on purpose, and no abort filter needed: only the idempotent producer above writes this
    // topic, never inside a transaction, so it holds no transactional record, aborted or not, and no marker. Its
    // last record is the journal's latest entry under either isolation level; read_committed would add nothing
    // but a wait behind the last stable offset if anything ever left a transaction open on it.
    this.cluster = createInternalCluster(kafka, { isolation: 'read_uncommitted' });
  }

  async read(partition: number): Promise<JournaledAttempt | undefined> {
    try {
      await this.connect();
      const [ends] = await this.cluster.fetchTopicsOffset([
        { topic: this.topic, partitions: [{ partition }], fromBeginning: false },
      ]);
      const end = BigInt(ends?.partitions.find((p) => p.partition === partition)?.offset ?? '0');
      if (end === 0n) return undefined;
      const key = attemptKey(this.inputTopic, partition);
      const records: JournalRecord[] = [];
      await readPartitionRange(this.cluster, {
        topic: this.topic,
        partition,
        isolation: 'read_uncommitted',
        from: end > TAIL_RECORDS ? end - TAIL_RECORDS : 0n,
        end,
        fetchMaxBytes: FETCH_MAX_BYTES,
        onRecords: (messages) => {
          for (const message of messages) {
            // Another key there (the input topic was renamed under the same APP_ID): no entry of ours.
            records.push(
              message.key?.toString('utf8') === key ? decodeJournalRecord(message.value) : { kind: 'clear' },
            );
          }
        },
      });
      return currentAttempt(records);
    } catch (error) {
      // Leadership may have moved: look again next time.
      await this.cluster.refreshMetadata().catch(() => undefined);
      throw translateKafkaError(error, `reading ${this.topic}-${partition}`);
    }
  }

  write(partition: number, attempt: JournaledAttempt | null): Promise<void> {
    return this.send(
      partition,
      attempt ? encodeAttemptEntry(attempt.entry, this.writer, Date.now(), attempt.stamp) : null,
    );
  }

  release(partition: number, own: AttemptStamp, restore: JournaledAttempt | undefined): Promise<void> {
    return this.send(partition, encodeAttemptRelease(own, restore, this.writer, Date.now()));
  }

  private async send(partition: number, value: Buffer | null): Promise<void> {
    try {
      await this.connect();
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: [{ partition, key: attemptKey(this.inputTopic, partition), value }],
      });
    } catch (error) {
      throw translateKafkaError(error, `writing ${this.topic}-${partition}`);
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  private connect(): Promise<void> {
    return this.connection.ensure();
  }
}
