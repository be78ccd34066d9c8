import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PendingTransaction } from '../../src/engine/pending-transaction.js';
import type { InputBatch, InputMessage } from '../../src/engine/ports.js';

function message(offset: number): InputMessage {
  return { partition: 0, offset: BigInt(offset), key: null, value: null, timestampMs: 0, headers: {} };
}

function batch(offsets: number[], lastOffset: number): InputBatch {
  return { topic: 'in', partition: 0, messages: offsets.map(message), lastOffset: BigInt(lastOffset) };
}

function waiting(pending: PendingTransaction) {
  const range = pending.current;
  assert.ok(range, 'a range waits');
  return range;
}

function pendingWith(maxRecords: number, intervalMs = 100) {
  let now = 1_000;
  const pending = new PendingTransaction({ intervalMs, maxRecords: () => maxRecords, now: () => now });
  return { pending, advance: (ms: number) => (now += ms) };
}

test('a batch joins the waiting range from the committed offset; trailing markers move its end past the batch', () => {
  const { pending } = pendingWith(10);
  const fetched = batch([5, 6, 7], 9);
  assert.equal(pending.endOffset, undefined);
  const added = pending.add(fetched, fetched.messages, 0, 5n);
  assert.deepEqual({ next: added?.next, last: added?.last.offset }, { next: 3, last: 7n });
  assert.equal(pending.firstOffset, 5n);
  assert.equal(pending.endOffset, 10n, 'the markers at 8 and 9 are covered by this commit');
  const next = batch([10, 11], 11);
  pending.add(next, next.messages, 0, 5n);
  const range = pending.take();
  assert.ok(range);
  assert.deepEqual(
    range.messages.map((m) => m.offset),
    [5n, 6n, 7n, 10n, 11n],
  );
  assert.equal(range.endOffset, 12n);
  assert.ok(pending.isEmpty, 'taken: nothing waits');
});

test('the cap splits a batch: the first part ends at its last record, not at the batch end', () => {
  const { pending } = pendingWith(2);
  const fetched = batch([0, 1, 2], 4);
  const first = pending.add(fetched, fetched.messages, 0, 0n);
  assert.equal(first?.next, 2);
  assert.equal(pending.endOffset, 2n);
  assert.ok(pending.isDue(), 'full');
  assert.equal(pending.add(fetched, fetched.messages, 2, 0n), undefined, 'no room left');
  pending.take();
  const rest = pending.add(fetched, fetched.messages, 2, 2n);
  assert.equal(rest?.next, 3);
  assert.equal(pending.endOffset, 5n);
});

test('due once the interval has elapsed since the first batch joined, not since the last', () => {
  const { pending, advance } = pendingWith(100, 100);
  const one = batch([0], 0);
  pending.add(one, one.messages, 0, 0n);
  advance(60);
  const two = batch([1], 1);
  pending.add(two, two.messages, 0, 0n);
  assert.ok(!pending.isDue());
  advance(40);
  assert.ok(pending.isDue());
});

test('skipped markers after the waiting records extend its end; never backwards', () => {
  const { pending } = pendingWith(10);
  pending.extendTo(50n);
  assert.equal(pending.endOffset, undefined, 'nothing waits: nothing to extend');
  const fetched = batch([3], 3);
  pending.add(fetched, fetched.messages, 0, 3n);
  pending.extendTo(9n);
  pending.extendTo(6n);
  assert.equal(pending.endOffset, 9n);
});

test('the timer commits the range it was set for, once its interval elapsed, and not a range taken meanwhile', async () => {
  const due: bigint[] = [];
  const onDue = (range: { messages: InputMessage[] }) => due.push(range.messages[0]?.offset ?? -1n);
  const fetched = batch([0], 0);
  const realNow = () => Date.now();
  const timed = new PendingTransaction({ intervalMs: 20, maxRecords: () => 100, now: realNow });
  timed.add(fetched, fetched.messages, 0, 0n);
  timed.scheduleCommit(onDue);
  timed.scheduleCommit(onDue);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(due, [0n], 'one timer, fired once');
  const taken = new PendingTransaction({ intervalMs: 20, maxRecords: () => 100, now: realNow });
  taken.add(fetched, fetched.messages, 0, 0n);
  taken.scheduleCommit(onDue);
  taken.take();
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(due, [0n], 'a taken range has no timer');
});

test('records added without being kept (the task processed them) count toward the cap and set the first offset', () => {
  const { pending } = pendingWith(4);
  const fetched = batch([3, 4, 5], 5);
  pending.add(fetched, fetched.messages, 0, 3n, false);
  assert.equal(pending.firstOffset, 3n);
  assert.equal(pending.size, 3);
  assert.equal(waiting(pending).messages.length, 0, 'nothing kept');
  const next = batch([6, 7], 7);
  const added = pending.add(next, next.messages, 0, 3n);
  assert.equal(added?.next, 1, 'one record of room left');
  assert.ok(pending.isDue(), 'full');
  assert.deepEqual(
    waiting(pending).messages.map((m) => m.offset),
    [6n],
  );
});

test('a range whose processing failed is due at once, within its interval', () => {
  const { pending } = pendingWith(100, 60_000);
  const fetched = batch([0, 1], 1);
  const added = pending.add(fetched, fetched.messages, 0, 0n, false);
  assert.ok(added);
  assert.equal(pending.isDue(), false);
  added.range.failure = { error: new Error('processing threw') };
  assert.ok(pending.isDue());
});

test('a range is at the end only when its last batch joined whole and ended at the high watermark', () => {
  const { pending } = pendingWith(2);
  const atEnd = (offsets: number[]): InputBatch => ({
    ...batch(offsets, offsets[offsets.length - 1] ?? 0),
    atEnd: true,
  });
  const first = atEnd([0]);
  pending.add(first, first.messages, 0, 0n);
  assert.equal(waiting(pending).atEnd, true);
  const split = atEnd([1, 2]);
  pending.add(split, split.messages, 0, 0n);
  assert.equal(waiting(pending).atEnd, false, 'the cap left record 2 behind: not at the end');
  pending.take();
  pending.add(split, split.messages, 1, 2n);
  assert.equal(waiting(pending).atEnd, true);
  const behind = batch([3], 3);
  pending.add(behind, behind.messages, 0, 2n);
  assert.equal(waiting(pending).atEnd, false, 'a later batch short of the end');
});
