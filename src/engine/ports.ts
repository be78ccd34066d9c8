/**
 * What the engine needs from Kafka, without kafkajs: the engine's tests drive a fake of these, the kafka/ folder
 * implements them on kafkajs.
 */

export type Headers = Record<string, string | Buffer | (string | Buffer)[]>;

export interface OutgoingRecord {
  topic: string;
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

export interface InputOffset {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka commits it. */
  offset: bigint;
}

/** Where the broker put the last record a send wrote to one partition. */
export interface Acknowledged {
  topic: string;
  partition: number;
  lastOffset: bigint;
}

/** One open transaction. Any method that throws leaves the producer unusable (see ProducerPort). */
export interface TransactionPort {
  /** Resolves with the offset of each partition's last record, as the broker acknowledged it (none if unknown). */
  send(records: readonly OutgoingRecord[]): Promise<readonly Acknowledged[]>;
  sendOffsets(groupId: string, offset: InputOffset): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A transactional producer that has already initialised (fenced its predecessors). */
export interface ProducerPort {
  readonly transactionalId: string;
  begin(): Promise<TransactionPort>;
  /** Never throws. */
  close(): Promise<void>;
}

export interface ChangelogRecord {
  key: Buffer;
  value: Buffer | null;
  /** Where the record sits and which transactional attempt wrote it: a checkpoint's fingerprint is made of them. */
  offset?: bigint | undefined;
  attempt?: string | null | undefined;
}

export interface TaskKafkaPort {
  /** Creates a producer and forces InitProducerId now (kafkajs does it lazily): step 1 of assignment. */
  createProducer(transactionalId: string): Promise<ProducerPort>;
  /** The group's committed offset for one input partition, or null when it has none. */
  committedOffset(groupId: string, topic: string, partition: number): Promise<bigint | null>;
  /**
   * Start and read_committed end (last stable offset) of one partition; the high watermark too when known (an
   * end below it means an open transaction).
   */
  partitionRange(
    topic: string,
    partition: number,
  ): Promise<{ start: bigint; end: bigint; highWatermark?: bigint | undefined }>;
  /** Reads a changelog partition, read_committed, from `fromOffset` (default: its start) up to `endOffset`. */
  readChangelog(
    topic: string,
    partition: number,
    endOffset: bigint,
    onRecords: (records: ChangelogRecord[]) => void,
    onProgress: (position: bigint) => Promise<void>,
    fromOffset?: bigint,
  ): Promise<void>;
}

export type HeaderValue = string | Buffer | (string | Buffer)[];
export type InputHeaders = Record<string, HeaderValue | undefined>;

/**
 * A fetched input record, in the shape the processor is handed it (RecordMetadata and the value): the engine
 * passes this object itself rather than a copy per record.
 */
export interface InputMessage {
  /** The input partition it was fetched from: its task's. */
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: InputHeaders;
}

export interface InputBatch {
  topic: string;
  partition: number;
  messages: InputMessage[];
  /** Offset of the last entry fetched, control records and filtered aborted records included. */
  lastOffset: bigint;
  /**
   * The fetch found nothing after this batch: it ends at the partition's high watermark. Absent: unknown, taken
   * as not at the end.
   */
  atEnd?: boolean;
}

export interface BatchControl {
  heartbeat(): Promise<void>;
  /**
   * Tells the consumer its next fetch starts after this message. Commits nothing (offsets are committed only in
   * transactions): a record waiting for its commit is resolved too, and a failure seeks back to the last commit.
   */
  resolveOffset(offset: bigint): void;
  /** False once the consumer stops or the partition was sought elsewhere: stop working on this batch. */
  isActive(): boolean;
}

/** The consumer controls a task may use on its own partition. */
export interface PartitionControl {
  seek(partition: number, offset: bigint): void;
  pause(partition: number): void;
  resume(partition: number): void;
}

/**
 * The processing-attempts journal's entry for one input partition (`<APP_ID>-processing-attempts`): attempts that
 * began processing at `offset` and neither committed past it nor closed cleanly. Only a process that died leaves
 * one standing, so the journal counts crashes, not retries.
 */
export interface AttemptEntry {
  /** The offset of the first record the attempts processed (the committed offset, or past a transaction marker there). */
  offset: bigint;
  /** How many such attempts began there (the one in flight included); 0: isolated, and processed since. */
  attempts: number;
  /** True when they processed the record at `offset` alone (one record per transaction). */
  isolated: boolean;
  /** One record per transaction until the committed offset reaches this (exclusive). */
  isolateUntil: bigint;
}

/**
 * Who journaled an entry: the task incarnation (unique across processes) and its own counter. A release names
 * the entry it takes back, so an old owner's late release cannot undo a newer owner's entry.
 */
export interface AttemptStamp {
  owner: string;
  seq: number;
}

/** An entry as journaled; `stamp` is absent on entries written before stamps existed. */
export interface JournaledAttempt {
  entry: AttemptEntry;
  stamp?: AttemptStamp | undefined;
}

/** Durable, non-transactional: a write is acknowledged by all in-sync replicas before processing starts. */
export interface AttemptJournalPort {
  /** The partition's current entry (releases resolved); undefined when there is none. */
  read(partition: number): Promise<JournaledAttempt | undefined>;
  /** Replaces the partition's entry; null removes it (an operator clearing a quarantine). */
  write(partition: number, attempt: JournaledAttempt | null): Promise<void>;
  /**
   * Takes back the entry stamped `own`, putting `restore` in its place, only while `own` is the current entry:
   * resolved in the journal's own order, so a release that lands after another owner's entry changes nothing.
   */
  release(partition: number, own: AttemptStamp, restore: JournaledAttempt | undefined): Promise<void>;
}
