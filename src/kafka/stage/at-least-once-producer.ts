/**
 * PROCESSING_GUARANTEE=at_least_once: the ProducerPort the task drives, without transactions. Records go out
 * through an idempotent producer as they are sent; the offsets are committed by the consumer group when the task
 * "commits". A failure before that commit leaves sent records in place, and the task's rewind sends them again:
 * duplicates, never loss (Kafka Streams' at_least_once). There is no fencing either: a zombie may write too.
 * Same task code, same state handling, so a benchmark run with it measures exactly what transactions cost.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { InputOffset, OutgoingRecord, ProducerPort, TransactionPort } from '../../engine/ports.js';
import { StageError } from '../../errors/errors.js';
import { explicitPartitioner } from '../client/key-partition.js';
import { sendInChunks } from '../client/transactional-producer.js';
import { translateKafkaError } from '../client/translate-error.js';

/** Commits the consumer group's offset of one input partition, outside any transaction. */
export type OffsetCommitter = (offset: InputOffset) => Promise<void>;

export async function createAtLeastOnceProducer(
  kafka: Kafka,
  name: string,
  commitOffset: OffsetCommitter,
): Promise<ProducerPort> {
  const producer = kafka.producer({
    createPartitioner: explicitPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  try {
    await producer.connect();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw translateKafkaError(error, `connecting the at-least-once producer of ${name}`);
  }
  return new AtLeastOnceProducer(producer, name, commitOffset);
}

class AtLeastOnceProducer implements ProducerPort {
  private isBroken = false;

  constructor(
    private readonly producer: Producer,
    readonly transactionalId: string,
    private readonly commitOffset: OffsetCommitter,
  ) {}

  begin(): Promise<TransactionPort> {
    if (this.isBroken)
      return Promise.reject(
        new StageError('INVARIANT_VIOLATED', `producer ${this.transactionalId}: used after an error`),
      );
    let offset: InputOffset | undefined;
    const guarded = async <T>(doing: string, action: () => Promise<T>): Promise<T> => {
      try {
        return await action();
      } catch (error) {
        // Like the transactional producer: kafkajs rolls sequence numbers back after a failed send.
        this.isBroken = true;
        throw translateKafkaError(error, `${this.transactionalId}: ${doing}`);
      }
    };
    return Promise.resolve({
      send: (records: readonly OutgoingRecord[]) =>
        guarded('sending records', () => sendInChunks(this.producer, records)),
      sendOffsets: (_groupId: string, next: InputOffset) => {
        offset = next;
        return Promise.resolve();
      },
      commit: () =>
        guarded('committing offsets', async () => {
          if (offset) await this.commitOffset(offset);
        }),
      // What was sent stays sent: the rewind sends it again.
      abort: () => Promise.resolve(),
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
