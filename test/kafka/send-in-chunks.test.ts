/**
 * sendInChunks, without Kafka: requests stay within the record bound, in order, and each partition's last offset
 * is the base offset the broker gave its batch in the last request that carried it, plus the records before the
 * last one in that batch (a running checkpoint's fingerprint sits there).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProducerBatch, RecordMetadata } from 'kafkajs';
import type { OutgoingRecord } from '../../src/engine/ports.js';
import { MAX_RECORDS_PER_SEND, sendInChunks } from '../../src/kafka/client/transactional-producer.js';

const record = (topic: string, partition: number, i: number): OutgoingRecord => ({
  topic,
  partition,
  key: Buffer.from(`k${i}`),
  value: Buffer.from(`v${i}`),
  headers: {},
});

/** A log per topic-partition that appends each request's batch and answers its base offset. */
function fakeBroker(answer: (topic: string, partition: number, base: number) => string | undefined) {
  const logs = new Map<string, number>();
  const requests: number[] = [];
  const sendBatch = (batch: ProducerBatch): Promise<RecordMetadata[]> => {
    const out: RecordMetadata[] = [];
    let records = 0;
    for (const { topic, messages } of batch.topicMessages ?? []) {
      const byPartition = new Map<number, number>();
      for (const m of messages)
        byPartition.set(m.partition ?? -1, (byPartition.get(m.partition ?? -1) ?? 0) + 1);
      for (const [partition, count] of byPartition) {
        const key = `${topic}/${partition}`;
        const base = logs.get(key) ?? 0;
        logs.set(key, base + count);
        records += count;
        const baseOffset = answer(topic, partition, base);
        out.push({
          topicName: topic,
          partition,
          errorCode: 0,
          ...(baseOffset === undefined ? {} : { baseOffset }),
        });
      }
    }
    requests.push(records);
    return Promise.resolve(out);
  };
  return { sendBatch, requests, logs };
}

void test('each partition’s last offset is its last batch’s base plus the records before its last, over several requests', async () => {
  const broker = fakeBroker((_t, _p, base) => String(base + 100));
  const records = [
    ...Array.from({ length: MAX_RECORDS_PER_SEND + 3 }, (_, i) => record('changelog', 2, i)),
    ...Array.from({ length: 5 }, (_, i) => record('out', i % 2, i)),
  ];
  const acknowledged = await sendInChunks(broker, records);
  assert.deepEqual(broker.requests, [MAX_RECORDS_PER_SEND, 8]);
  const byKey = new Map(acknowledged.map((a) => [`${a.topic}/${a.partition}`, a.lastOffset]));
  // The log starts at 100 here: MAX+3 records end at 100 + MAX + 2.
  assert.equal(byKey.get('changelog/2'), BigInt(100 + MAX_RECORDS_PER_SEND + 2));
  assert.equal(byKey.get('out/0'), 102n); // three records: 100, 101, 102
  assert.equal(byKey.get('out/1'), 101n); // two records: 100, 101
});

void test('a partition whose last batch came back without an offset has none, not an earlier batch’s', async () => {
  let calls = 0;
  const broker = fakeBroker((_t, _p, base) => (calls++ === 0 ? String(base) : '-1'));
  const records = Array.from({ length: MAX_RECORDS_PER_SEND + 1 }, (_, i) => record('changelog', 0, i));
  assert.deepEqual(await sendInChunks(broker, records), []);
});
