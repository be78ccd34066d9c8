/**
 * What the restores' partition fetcher hands over of one fetch and where it fetches next, on constructed fetch
 * data: whole record batches starting before the requested offset, records past the end, aborted transactions
 * and markers at each isolation, and batches that compaction emptied. The expectations are the offsets the test
 * put in each batch; integration/compat/aborted-upstream.test.ts holds the same reader to Kafka's Java consumer
 * on a real broker.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { handedOver, nextPosition } from '../../src/kafka/client/partition-fetcher.js';
import type { FetchedRecord, FetchedRecords } from '../../src/kafkajs-internals/index.js';

const ABORT_KEY = Buffer.from([0, 0, 0, 0]);
const COMMIT_KEY = Buffer.from([0, 0, 0, 1]);

/** One record batch of `producerId` as kafkajs decodes it, with records at the given offsets. */
function batch(
  producerId: string,
  offsets: number[],
  options: { transactional?: boolean; lastOffset?: number } = {},
) {
  const first = offsets[0] ?? 0;
  const context = {
    firstOffset: String(first),
    lastOffsetDelta: (options.lastOffset ?? offsets[offsets.length - 1] ?? first) - first,
    producerId,
    inTransaction: options.transactional ?? true,
  };
  return offsets.map((offset): FetchedRecord => ({
    offset: String(offset),
    timestamp: '0',
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(`v${offset}`),
    headers: {},
    isControlRecord: false,
    batchContext: context,
  }));
}

function marker(producerId: string, offset: number, kind: 'abort' | 'commit'): FetchedRecord[] {
  const context = { firstOffset: String(offset), lastOffsetDelta: 0, producerId, inTransaction: true };
  const key = kind === 'abort' ? ABORT_KEY : COMMIT_KEY;
  return [
    {
      offset: String(offset),
      timestamp: '0',
      key,
      value: null,
      headers: {},
      isControlRecord: true,
      batchContext: context,
    },
  ];
}

function fetched(records: FetchedRecord[], batchesEndOffset?: number): FetchedRecords {
  const messages: FetchedRecords = [...records];
  if (batchesEndOffset !== undefined) {
    Object.defineProperty(messages, 'batchesEndOffset', {
      value: String(batchesEndOffset),
      enumerable: false,
    });
  }
  return messages;
}

const offsets = (records: readonly FetchedRecord[]): number[] => records.map((r) => Number(r.offset));

test('records of a batch before the requested offset and at or past the end are not handed over', () => {
  const messages = fetched(batch('1', [10, 11, 12, 13, 14, 15], { transactional: false }));
  assert.deepEqual(
    offsets(handedOver({ messages, abortedTransactions: [] }, 12n, 15n, 'read_committed')),
    [12, 13, 14],
  );
  assert.deepEqual(
    offsets(handedOver({ messages, abortedTransactions: [] }, 10n, 100n, 'read_committed')),
    [10, 11, 12, 13, 14, 15],
  );
});

test('read_committed drops an aborted transaction and every marker; read_uncommitted keeps the aborted records', () => {
  // Producer 7 commits 0-1 (marker 2); producer 8 aborts 3-4 (marker 5); producer 7 commits 6 (marker 7).
  const messages = fetched([
    ...batch('7', [0, 1]),
    ...marker('7', 2, 'commit'),
    ...batch('8', [3, 4]),
    ...marker('8', 5, 'abort'),
    ...batch('7', [6]),
    ...marker('7', 7, 'commit'),
  ]);
  const abortedTransactions = [{ producerId: '8', firstOffset: '3' }];
  assert.deepEqual(
    offsets(handedOver({ messages, abortedTransactions }, 0n, 8n, 'read_committed')),
    [0, 1, 6],
  );
  assert.deepEqual(
    offsets(handedOver({ messages, abortedTransactions }, 0n, 8n, 'read_uncommitted')),
    [0, 1, 3, 4, 6],
  );
});

test('a fetch starting inside an aborted transaction hands over none of its records', () => {
  const messages = fetched([
    ...batch('8', [3, 4, 5]),
    ...marker('8', 6, 'abort'),
    ...batch('9', [7], { transactional: false }),
  ]);
  const abortedTransactions = [{ producerId: '8', firstOffset: '3' }];
  assert.deepEqual(offsets(handedOver({ messages, abortedTransactions }, 4n, 8n, 'read_committed')), [7]);
});

test('the next fetch starts after the last record, or after the last complete batch when it ends later', () => {
  assert.equal(nextPosition({ messages: fetched(batch('1', [5, 6, 7])) }, 5n), 8n);
  // The last batch lost its last records to compaction: its end, not its last record, is where the log goes on.
  assert.equal(nextPosition({ messages: fetched(batch('1', [5, 6, 7], { lastOffset: 11 }), 12) }, 5n), 12n);
  // Only a batch compaction emptied: no record at all, yet the position moves past it.
  assert.equal(nextPosition({ messages: fetched([], 40) }, 30n), 40n);
});

test('a fetch that returned nothing leaves the position where it was, for the reader to refuse', () => {
  assert.equal(nextPosition({ messages: fetched([]) }, 30n), 30n);
  // Whole batches before the requested offset only (a fetch answered from an earlier batch): no progress either.
  assert.equal(nextPosition({ messages: fetched(batch('1', [20, 21]), 22) }, 30n), 30n);
});
