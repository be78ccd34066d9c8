/**
 * The kafkajs patch to Batch (patches/kafkajs+2.2.4+002+compaction-emptied-batches.patch): a fetch whose complete record batches end past the
 * fetched offset but yield no record at or after it (a batch emptied by compaction, records wholly below the
 * offset) is resolved up to where those batches end, so the consumer moves on instead of fetching it forever.
 * The real-broker case is integration/stage/liveness-compacted-empty-batch.test.ts.
 */
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const requireFromKafkajs = createRequire(__filename);

interface RawMessage {
  offset: string;
  isControlRecord?: boolean;
}
type Messages = RawMessage[] & { batchesEndOffset?: string };
interface KafkajsBatch {
  messages: RawMessage[];
  isEmpty(): boolean;
  isEmptyDueToFiltering(): boolean;
  lastOffset(): string;
}
type BatchClass = new (
  topic: string,
  fetchedOffset: string,
  partitionData: { partition: number; highWatermark: string; abortedTransactions: []; messages: Messages },
) => KafkajsBatch;

const Batch = requireFromKafkajs('kafkajs/src/consumer/batch') as BatchClass;

function batchAt(fetchedOffset: string, offsets: string[], batchesEndOffset?: string): KafkajsBatch {
  const messages: Messages = offsets.map((offset) => ({ offset }));
  if (batchesEndOffset !== undefined)
    Object.defineProperty(messages, 'batchesEndOffset', { value: batchesEndOffset });
  return new Batch('t', fetchedOffset, {
    partition: 0,
    highWatermark: '10',
    abortedTransactions: [],
    messages,
  });
}

test('an empty record batch ending past the fetched offset is resolved to its end', () => {
  const batch = batchAt('1', [], '2');
  assert.equal(batch.isEmpty(), true);
  assert.equal(batch.isEmptyDueToFiltering(), true, 'resolved like a batch of markers, not fetched again');
  assert.equal(batch.lastOffset(), '1');
});

test('records wholly below the fetched offset are passed up to the end of their batches, not one offset at a time', () => {
  const batch = batchAt('7', ['3', '4'], '10');
  assert.equal(batch.isEmptyDueToFiltering(), true);
  assert.equal(batch.lastOffset(), '9');
});

test('a fetch that decoded no complete batch, or batches ending at the fetched offset, is left as before', () => {
  assert.equal(
    batchAt('5', []).isEmptyDueToFiltering(),
    false,
    'a partial batch only: fetched again, larger',
  );
  assert.equal(batchAt('5', [], '5').isEmptyDueToFiltering(), false);
  const normal = batchAt('5', ['5', '6'], '7');
  assert.equal(normal.isEmpty(), false);
  assert.equal(normal.lastOffset(), '6');
});

test('records below the fetched offset are dropped by comparing offsets as numbers, and as 64-bit integers past 2^53', () => {
  // The patch compares safe integers as numbers; the expectation is BigInt arithmetic on the same strings.
  const kept = (fetched: string, offsets: string[]) =>
    batchAt(fetched, offsets).messages.map((m) => m.offset);
  const expected = (fetched: string, offsets: string[]) =>
    offsets.filter((o) => BigInt(o) >= BigInt(fetched));
  const safe = ['0', '1', '8', '9', '10', '11', '99', '100', '101', '9007199254740990', '9007199254740991'];
  const past = ['9007199254740992', '9007199254740993', '9007199254740994', '9223372036854775807'];
  for (const fetched of [...safe, ...past])
    for (const offsets of [safe, past, [...safe, ...past]])
      assert.deepEqual(kept(fetched, offsets), expected(fetched, offsets), `fetched ${fetched}`);
});
