/**
 * The partition the Java client's default partitioner picks for a key: `toPositive(murmur2(key)) % partitions`
 * (`org.apache.kafka.common.utils.Utils.murmur2`), so output keys land where Kafka's own tools expect them.
 *
 * kafkajs's DefaultPartitioner computes the same number through its 64-bit Long emulation, one object per
 * multiply: about 4% of the stage's CPU when every output record was partitioned so. Java's arithmetic is 32-bit
 * two's complement, which `Math.imul` and `|`/`^`/`>>>` give directly.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= (data[whole + 2] ?? 0) << 16;
    if (tail >= 2) h ^= (data[whole + 1] ?? 0) << 8;
    h ^= data[whole] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

export function keyPartitioner(partitionCount: number): (key: Buffer) => number {
  return (key) => (murmur2(key) & 0x7fffffff) % partitionCount;
}

/**
 * kafkajs's partitioner for producers whose every record already names its partition (the engine's records:
 * `keyPartitioner` above, the changelog's and the DLQ's by input partition). kafkajs's default partitioner
 * filtered the topic's partition list before it looked at the record's own partition: an array per produced
 * record, for nothing. A record without one is refused, not spread by some rule of kafkajs's.
 */
export const explicitPartitioner =
  () =>
  ({ topic, message }: { topic: string; message: { partition?: number | null } }): number => {
    const { partition } = message;
    if (typeof partition !== 'number') {
      throw new TypeError(
        `a record for ${topic} names no partition: the stage partitions every record itself`,
      );
    }
    return partition;
  };
