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

test('the oldest unread record is the first data record at or after the position', () => {
  const records = [data(8, 800), data(9, 900), data(10, 1000)];
  assert.deepEqual(firstReadableRecord(records, 9n), { timestampMs: 900 });
});

test('transaction markers are skipped', () => {
  const records = [data(4, 400, '7'), marker(5, '7'), data(6, 600, '7')];
  assert.deepEqual(firstReadableRecord(records, 5n), { timestampMs: 600 });
});

test("records of an aborted transaction are skipped, up to that producer's marker", () => {
  const records = [data(10, 1000, '7'), data(11, 1100, '7'), marker(12, '7'), data(13, 1300, '7')];
  const aborted = [{ producerId: '7', firstOffset: '10' }];
  assert.deepEqual(firstReadableRecord(records, 10n, aborted), { timestampMs: 1300 });
});

test("another producer's records inside an aborted transaction's range are readable", () => {
  const records = [data(10, 1000, '7'), data(11, 1100, '8'), marker(12, '7')];
  assert.deepEqual(firstReadableRecord(records, 10n, [{ producerId: '7', firstOffset: '10' }]), {
    timestampMs: 1100,
  });
});

test('a fetch of markers only says where to look next', () => {
  assert.deepEqual(firstReadableRecord([marker(20, '7'), marker(21, '8')], 20n), { nextPosition: 22n });
});

test('an empty fetch says nothing', () => {
  assert.deepEqual(firstReadableRecord([], 20n), {});
});
