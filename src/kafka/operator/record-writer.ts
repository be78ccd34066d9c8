/**
 * Plain (non-transactional) writes for the operator commands: the load generator and the inventory loader.
 * One idempotent producer, so a retried request never duplicates a record; sends are awaited one batch at a
 * time, and a batch is at most MAX_BATCH_RECORDS records (kafkajs groups messages in quadratic time).
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { translateKafkaError } from '../client/translate-error.js';

export const MAX_BATCH_RECORDS = 1000;

export interface OutgoingRecord {
  key: Buffer | string | null;
  /** null: a tombstone. */
  value: Buffer | null;
  /** Default: the Java client's partitioner (murmur2 of the key), so records land where Kafka tools expect. */
  partition?: number;
}

export class RecordWriter {
  private constructor(private readonly producer: Producer) {}

  static async connect(kafka: Kafka): Promise<RecordWriter> {
    const producer = kafka.producer({
      idempotent: true,
      // One request in flight keeps kafkajs' sequence numbers simple; throughput comes from batch size.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // kafkajs' own idempotent default: a send keeps retrying through a broker restart (Ctrl-C ends the
      // command); a bounded count could give up after a write that did land, and a rerun would duplicate it.
      retry: { retries: Number.MAX_SAFE_INTEGER },
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw translateKafkaError(error, 'connecting the producer');
    }
    return new RecordWriter(producer);
  }

  /** Writes `records` in order, in batches of at most MAX_BATCH_RECORDS; resolves once all are acknowledged. */
  async send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    for (let from = 0; from < records.length; from += MAX_BATCH_RECORDS) {
      const messages = records.slice(from, from + MAX_BATCH_RECORDS).map((r) => ({
        key: r.key,
        value: r.value,
        ...(r.partition === undefined ? {} : { partition: r.partition }),
      }));
      try {
        await this.producer.send({ topic, messages, acks: -1 });
      } catch (error) {
        throw translateKafkaError(error, `writing ${messages.length} records to ${topic}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
