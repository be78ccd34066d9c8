/**
 * Where the input consumer's batch ends for a read_committed reader (`atEnd`, which lets output waiting at the
 * partition's end commit at once): the fetch's last stable offset, which kafkajs's Batch keeps by the patch
 * `002`, not the high watermark, which runs ahead while an upstream producer's transaction is open.
 */
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { readableEnd } from '../../src/kafka/stage/input-consumer.js';

interface KafkajsBatch {
  highWatermark: string;
  lastStableOffset?: string;
  lastOffset(): string;
}
type BatchClass = new (
  topic: string,
  fetchedOffset: string,
  partitionData: {
    partition: number;
    highWatermark: string;
    lastStableOffset?: string;
    abortedTransactions: [];
    messages: { offset: string }[];
  },
) => KafkajsBatch;

const Batch = createRequire(__filename)('kafkajs/src/consumer/batch') as BatchClass;

/** Committed records at 10 and 11, then a transaction opened at 12 and still open: high watermark 20. */
const behindAnOpenTransaction = () =>
  new Batch('t', '10', {
    partition: 0,
    highWatermark: '20',
    lastStableOffset: '12',
    abortedTransactions: [],
    messages: [{ offset: '10' }, { offset: '11' }],
  });

test('kafkajs keeps the fetch response’s last stable offset on the batch', () => {
  assert.equal(behindAnOpenTransaction().lastStableOffset, '12');
});

test('a batch that reaches the last stable offset is at the end, whatever the high watermark', () => {
  const batch = behindAnOpenTransaction();
  assert.equal(readableEnd(batch), 12n);
  assert.ok(BigInt(batch.lastOffset()) + 1n >= readableEnd(batch));
  // Negative control: against the high watermark the same batch never reaches the end.
  assert.ok(BigInt(batch.lastOffset()) + 1n < BigInt(batch.highWatermark));
});

test('without a last stable offset (absent, or -1 from the broker) the high watermark is the end', () => {
  assert.equal(readableEnd({ highWatermark: '20' }), 20n);
  assert.equal(readableEnd({ highWatermark: '20', lastStableOffset: '-1' }), 20n);
});
