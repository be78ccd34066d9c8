import assert from 'node:assert/strict';
import { test } from 'node:test';

import { firstReadableRecord, type TimestampedRecord } from '../../src/kafka/operator/lag-reader.js';

const data = (offset: number, timestamp: number, producerId?: string): TimestampedRecord => ({
  offset: String(offset),
  timestamp: String(timestamp),
  isControlRecord: false,
  batchContext: producerId === undefined ? {} : { producerId, inTransaction: true },
});
/** An ABORT marker: its control key is version 0, type 0. */
const marker = (offset: number, producerId: string): TimestampedRecord => ({
  offset: String(offset),
  timestamp: '0',
  key: Buffer.from([0, 0, 0, 0]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});

/** The end the fetches below read to: the partition's last stable offset, past every record here. */
const END = 100n;

test('the oldest unread record is the first data record at or after the position', () => {
  const messages = [data(8, 800), data(9, 900), data(10, 1000)];
  assert.deepEqual(firstReadableRecord({ messages }, 9n, END), { timestampMs: 900 });
});

test('a record at or past the end (the last stable offset) is not unread yet', () => {
  const messages = [data(8, 800), data(9, 900)];
  assert.deepEqual(firstReadableRecord({ messages }, 9n, 9n), { nextPosition: 10n });
});

test('transaction markers are skipped', () => {
  const messages = [data(4, 400, '7'), marker(5, '7'), data(6, 600, '7')];
  assert.deepEqual(firstReadableRecord({ messages }, 5n, END), { timestampMs: 600 });
});

test("records of an aborted transaction are skipped, up to that producer's marker", () => {
  const messages = [data(10, 1000, '7'), data(11, 1100, '7'), marker(12, '7'), data(13, 1300, '7')];
  const abortedTransactions = [{ producerId: '7', firstOffset: '10' }];
  assert.deepEqual(firstReadableRecord({ messages, abortedTransactions }, 10n, END), { timestampMs: 1300 });
});

test("another producer's records inside an aborted transaction's range are readable", () => {
  const messages = [data(10, 1000, '7'), data(11, 1100, '8'), marker(12, '7')];
  const abortedTransactions = [{ producerId: '7', firstOffset: '10' }];
  assert.deepEqual(firstReadableRecord({ messages, abortedTransactions }, 10n, END), { timestampMs: 1100 });
});

test('a fetch of markers only says where to look next', () => {
  const messages = [marker(20, '7'), marker(21, '8')];
  assert.deepEqual(firstReadableRecord({ messages }, 20n, END), { nextPosition: 22n });
});

test('a fetch of batches compaction emptied says where to look next: past them', () => {
  const messages = Object.assign([] as TimestampedRecord[], { batchesEndOffset: '31' });
  assert.deepEqual(firstReadableRecord({ messages }, 20n, END), { nextPosition: 31n });
});

test('an empty fetch says nothing', () => {
  assert.deepEqual(firstReadableRecord({ messages: [] }, 20n, END), {});
});
