/**
 * A kafkajs transactional producer behind ProducerPort, with the rules kafkajs needs spelled out:
 * - InitProducerId is forced at creation (an empty transaction begun and abandoned locally), so fencing happens
 *   before the caller reads committed offsets (design §2 step 1);
 * - any error from send, sendOffsets, commit or abort marks the producer broken: kafkajs leaves its state
 *   machine stuck and rolls sequence numbers back after a failed send, so it is never used again;
 * - each send stays under ~2,000 records and ~1 MB per partition: kafkajs groups messages in quadratic time and
 *   never splits a request.
 */
import type { Kafka, Producer, Transaction } from 'kafkajs';
import type {
  Acknowledged,
  InputOffset,
  OutgoingRecord,
  ProducerPort,
  TransactionPort,
} from '../../engine/ports.js';
import { StageError } from '../../errors/errors.js';
import { explicitPartitioner } from './key-partition.js';
import { translateTransactionalError } from './translate-error.js';

export const MAX_RECORDS_PER_SEND = 2000;
export const MAX_BYTES_PER_SEND = 1024 * 1024;

type ProducerState = 'ready' | 'in-transaction' | 'broken' | 'closed';

export interface ProducerSettings {
  transactionTimeoutMs: number;
  /**
   * The first back-off of the producer's retries: its sends and (with the transaction-coordinator patch) its
   * InitProducerId and TxnOffsetCommit. kafkajs's default, 300 ms, would make each wait for a coordinator that is
   * busy or has just moved cost a third of a second or more.
   */
  initialRetryMs: number;
}

export async function createTransactionalProducer(
  kafka: Kafka,
  transactionalId: string,
  settings: ProducerSettings,
): Promise<ProducerPort> {
  const producer = kafka.producer({
    // Every record names its partition; naming a partitioner also silences kafkajs's partitioner-change warning.
    createPartitioner: explicitPartitioner,
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: settings.transactionTimeoutMs,
    allowAutoTopicCreation: false,
    retry: { retries: 10, initialRetryTime: settings.initialRetryMs, maxRetryTime: 1000 },
  });
  try {
    await producer.connect();
    const fencing = await producer.transaction();
    await fencing.abort(); // nothing was added: kafkajs sends no EndTxn, the epoch bump stands
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw translateTransactionalError(error, `initialising transactional producer ${transactionalId}`);
  }
  return new KafkajsTransactionalProducer(producer, transactionalId);
}

class KafkajsTransactionalProducer implements ProducerPort {
  private state: ProducerState = 'ready';

  constructor(
    private readonly producer: Producer,
    readonly transactionalId: string,
  ) {}

  async begin(): Promise<TransactionPort> {
    this.expect('ready', 'begin');
    try {
      const transaction = await this.producer.transaction();
      this.state = 'in-transaction';
      return this.wrap(transaction);
    } catch (error) {
      throw this.fail(error, 'beginning a transaction');
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.producer.disconnect().catch(() => undefined);
  }

  private wrap(transaction: Transaction): TransactionPort {
    const guarded = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
      this.expect('in-transaction', what);
      try {
        return await action();
      } catch (error) {
        throw this.fail(error, what);
      }
    };
    return {
      send: (records) => guarded('sending records', () => sendInChunks(transaction, records)),
      sendOffsets: (groupId, offset) =>
        guarded('sending offsets', () => sendOffsets(transaction, groupId, offset)),
      commit: async () => {
        await guarded('committing', () => transaction.commit());
        this.state = 'ready';
      },
      abort: async () => {
        await guarded('aborting', () => transaction.abort());
        this.state = 'ready';
      },
    };
  }

  private expect(state: ProducerState, action: string): void {
    if (this.state !== state) {
      throw new StageError(
        'INVARIANT_VIOLATED',
        `producer ${this.transactionalId}: cannot ${action} while ${this.state}`,
      );
    }
  }

  private fail(error: unknown, doing: string): StageError {
    this.state = 'broken';
    return translateTransactionalError(error, `${this.transactionalId}: ${doing}`);
  }
}

async function sendOffsets(transaction: Transaction, groupId: string, offset: InputOffset): Promise<void> {
  await transaction.sendOffsets({
    consumerGroupId: groupId,
    topics: [
      {
        topic: offset.topic,
        partitions: [{ partition: offset.partition, offset: offset.offset.toString() }],
      },
    ],
  });
}

function headersSize(headers: OutgoingRecord['headers']): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) bytes += name.length + value.length;
  return bytes;
}

/**
 * Splits into requests of at most MAX_RECORDS_PER_SEND records and about MAX_BYTES_PER_SEND bytes, sent in order.
 * Resolves with each partition's last offset: kafkajs writes one record batch per partition per request, and the
 * produce response gives that batch's base offset.
 */
export async function sendInChunks(
  transaction: Pick<Transaction, 'sendBatch'>,
  records: readonly OutgoingRecord[],
): Promise<Acknowledged[]> {
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  const last = new Map<string, Acknowledged>();
  // The records of a transaction share one lineage headers object: its size is worked out once, not per record
  // (listing its entries for every record was the largest allocation per input record on the produce side).
  let sizedHeaders: OutgoingRecord['headers'] | undefined;
  let sizedHeadersBytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const byTopic = new Map<string, OutgoingRecord[]>();
    const perPartition = new Map<string, Map<number, number>>();
    for (const record of chunk) {
      let list = byTopic.get(record.topic);
      let counts = perPartition.get(record.topic);
      if (list === undefined || counts === undefined) {
        list = [];
        counts = new Map();
        byTopic.set(record.topic, list);
        perPartition.set(record.topic, counts);
      }
      list.push(record);
      counts.set(record.partition, (counts.get(record.partition) ?? 0) + 1);
    }
    // The records go to kafkajs as they are (it reads key, value, partition, headers and timestamp, and copies
    // nothing it is given): a copy of each without its topic was garbage the moment it was encoded.
    const written = await transaction.sendBatch({
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    for (const { topicName, partition, baseOffset } of written) {
      const count = perPartition.get(topicName)?.get(partition);
      if (count === undefined) continue;
      const key = `${topicName}\u0000${partition}`;
      // Offsets are not assigned when a broker answers acks=0 or an old version: -1, or absent. An earlier
      // chunk's offset is then not this partition's last either.
      if (baseOffset === undefined || !/^\d+$/.test(baseOffset)) {
        last.delete(key);
        continue;
      }
      last.set(key, { topic: topicName, partition, lastOffset: BigInt(baseOffset) + BigInt(count - 1) });
    }
    chunk = [];
    bytes = 0;
  };
  for (const record of records) {
    if (record.headers !== sizedHeaders) {
      sizedHeaders = record.headers;
      sizedHeadersBytes = headersSize(record.headers);
    }
    const size = 64 + (record.key?.length ?? 0) + (record.value?.length ?? 0) + sizedHeadersBytes;
    if (chunk.length >= MAX_RECORDS_PER_SEND || (chunk.length > 0 && bytes + size > MAX_BYTES_PER_SEND))
      await flush();
    chunk.push(record);
    bytes += size;
  }
  await flush();
  return [...last.values()];
}
