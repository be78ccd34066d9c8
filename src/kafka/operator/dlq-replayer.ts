/**
 * The writing half of `dlq replay`: one transactional producer (its own transactional id, so a second replay
 * fences the first), and one Kafka transaction per batch holding the replayed records and their markers, so a
 * record is back in the input exactly when its marker exists. Built on client/transactional-producer.ts:
 * InitProducerId is forced at open, before the caller reads the markers, so no older replay can commit after that
 * read.
 */
import type { Kafka } from 'kafkajs';
import type { OutgoingRecord, ProducerPort } from '../../engine/ports.js';
import { createTransactionalProducer } from '../client/transactional-producer.js';

type Bytes = Uint8Array | null;
type HeaderValues = Record<string, Uint8Array | string | (Uint8Array | string)[]>;

export interface ReplayWrite {
  topic: string;
  partition: number;
  key: Bytes;
  value: Bytes;
  headers: HeaderValues;
}

/** Test-only fault points (EOS_ROLLUP_FAULT after-send / after-commit) and progress. */
export interface ReplayHooks {
  afterSend?: () => Promise<void>;
  afterCommit?: () => Promise<void>;
}

/** A view on the same memory: the records were read as Buffers already, this only satisfies the types. */
function buffer(bytes: Bytes): Buffer | null {
  if (bytes === null) return null;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function outgoing(write: ReplayWrite): OutgoingRecord {
  const headers: OutgoingRecord['headers'] = {};
  for (const [name, value] of Object.entries(write.headers)) {
    const converted = Array.isArray(value)
      ? value.map((v) => (typeof v === 'string' ? v : (buffer(v) ?? '')))
      : typeof value === 'string'
        ? value
        : (buffer(value) ?? '');
    Object.defineProperty(headers, name, {
      value: converted,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return {
    topic: write.topic,
    partition: write.partition,
    key: buffer(write.key),
    value: buffer(write.value),
    headers,
  };
}

export class DlqReplayer {
  private constructor(private readonly producer: ProducerPort) {}

  /** Creates the producer and fences every earlier replay with the same transactional id. */
  static async open(
    kafka: Kafka,
    transactionalId: string,
    transactionTimeoutMs: number,
  ): Promise<DlqReplayer> {
    const producer = await createTransactionalProducer(kafka, transactionalId, {
      transactionTimeoutMs,
      initialRetryMs: 100,
    });
    return new DlqReplayer(producer);
  }

  /**
   * One transaction: every write (replayed records and markers) or none. On failure the transaction is aborted
   * when the producer still can; otherwise the next replay's InitProducerId (or the transaction timeout) aborts it.
   */
  async writeTransaction(writes: readonly ReplayWrite[], hooks: ReplayHooks = {}): Promise<void> {
    const transaction = await this.producer.begin();
    try {
      await transaction.send(writes.map(outgoing));
      await hooks.afterSend?.();
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    await hooks.afterCommit?.();
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
