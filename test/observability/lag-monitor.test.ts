import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  LagMonitor,
  lagOf,
  lagSecondsAt,
  type LagSample,
  type LagSource,
  type PartitionOffsetsSample,
} from '../../src/observability/lag-monitor.js';

const sample = (fields: Partial<PartitionOffsetsSample>): PartitionOffsetsSample => ({
  partition: 0,
  logStartOffset: 0n,
  lastStableOffset: 100n,
  committedOffset: 100n,
  oldestUnreadTimestampMs: null,
  ...fields,
});

test('lag in records is the last stable offset minus the committed offset', () => {
  assert.equal(lagOf(sample({ committedOffset: 60n })).lagRecords, 40);
});

test('a group committed at the last stable offset has no lag, whatever lies beyond it (markers, open transactions)', () => {
  assert.equal(lagOf(sample({ committedOffset: 100n, lastStableOffset: 100n })).lagRecords, 0);
});

test('a group without a committed offset resumes at the log start', () => {
  const lag = lagOf(sample({ committedOffset: null, logStartOffset: 30n }));
  assert.equal(lag.position, 30n);
  assert.equal(lag.lagRecords, 70);
});

test('a committed offset already deleted by retention counts from the log start', () => {
  assert.equal(lagOf(sample({ committedOffset: 10n, logStartOffset: 50n })).lagRecords, 50);
});

test('lag in seconds is the age of the oldest unread record at the time asked', () => {
  const lag = lagOf(sample({ committedOffset: 90n, oldestUnreadTimestampMs: 1_000 }));
  assert.equal(lagSecondsAt(lag, 31_000), 30);
  assert.equal(lagSecondsAt(lag, 61_000), 60);
});

test('without lag, lag in seconds is 0 even if a timestamp was read', () => {
  assert.equal(lagSecondsAt(lagOf(sample({ oldestUnreadTimestampMs: 1_000 })), 61_000), 0);
});

test('with lag but no readable timestamp, lag in seconds is unknown rather than guessed', () => {
  assert.equal(lagSecondsAt(lagOf(sample({ committedOffset: 90n })), 61_000), undefined);
});

test('a record timestamped in the future (clock skew) is not negative lag', () => {
  assert.equal(
    lagSecondsAt(lagOf(sample({ committedOffset: 90n, oldestUnreadTimestampMs: 5_000 })), 1_000),
    0,
  );
});

/** A source that counts its lookups and answers (or fails, or hangs) as told. */
function fakeSource(answer: (partitions: readonly number[]) => Promise<LagSample>) {
  const calls: (readonly number[])[] = [];
  const source: LagSource = {
    read: (partitions) => {
      calls.push(partitions);
      return answer(partitions);
    },
    close: () => Promise.resolve(),
  };
  return { source, calls };
}

const answer = (partitions: readonly number[]): Promise<LagSample> =>
  Promise.resolve({
    clusterName: 'c',
    retentionMs: null,
    partitions: partitions.map((partition) => sample({ partition })),
  });

test('scrapes within the cache age share one lookup; an older cache is looked up again', async () => {
  let nowMs = 0;
  const { source, calls } = fakeSource(answer);
  const monitor = new LagMonitor(source, () => [1, 0], {
    maxAgeMs: 1000,
    timeoutMs: 1000,
    now: () => nowMs,
    onError: () => undefined,
  });
  await monitor.snapshot();
  nowMs = 999;
  await monitor.snapshot();
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], [0, 1], 'partitions in order');
  nowMs = 1000;
  await monitor.snapshot();
  assert.equal(calls.length, 2);
});

test('concurrent scrapes share the lookup in flight', async () => {
  const { source, calls } = fakeSource(answer);
  const monitor = new LagMonitor(source, () => [0], {
    maxAgeMs: 1000,
    timeoutMs: 1000,
    now: () => 0,
    onError: () => undefined,
  });
  const [a, b] = await Promise.all([monitor.snapshot(), monitor.snapshot()]);
  assert.equal(calls.length, 1);
  assert.equal(a, b);
});

test('a new assignment is looked up at once, not served from the cache of the old one', async () => {
  let partitions = [0];
  const { source, calls } = fakeSource(answer);
  const monitor = new LagMonitor(source, () => partitions, {
    maxAgeMs: 60_000,
    timeoutMs: 1000,
    now: () => 0,
    onError: () => undefined,
  });
  await monitor.snapshot();
  partitions = [0, 1];
  const snapshot = await monitor.snapshot();
  assert.equal(calls.length, 2);
  assert.deepEqual(
    snapshot?.partitions.map((p) => p.partition),
    [0, 1],
  );
});

test('a failed lookup yields no snapshot, is counted and reported', async () => {
  const errors: unknown[] = [];
  const { source } = fakeSource(() => Promise.reject(new Error('broker away')));
  const monitor = new LagMonitor(source, () => [0], {
    maxAgeMs: 1000,
    timeoutMs: 1000,
    now: () => 0,
    onError: (e) => errors.push(e),
  });
  assert.equal(await monitor.snapshot(), undefined);
  assert.equal(monitor.failedLookups, 1);
  assert.equal(errors.length, 1);
});

test('a lookup slower than the timeout leaves the scrape without a snapshot, and fills the cache when it arrives', async () => {
  let release: () => void = () => undefined;
  const { source, calls } = fakeSource(
    (partitions) =>
      new Promise((resolve) => {
        release = () => {
          void answer(partitions).then(resolve);
        };
      }),
  );
  const monitor = new LagMonitor(source, () => [0], {
    maxAgeMs: 60_000,
    timeoutMs: 20,
    now: () => 0,
    onError: () => undefined,
  });
  assert.equal(await monitor.snapshot(), undefined);
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(await monitor.snapshot());
  assert.equal(calls.length, 1);
});

test('no partitions assigned: an empty snapshot without a lookup', async () => {
  const { source, calls } = fakeSource(answer);
  const monitor = new LagMonitor(source, () => [], {
    maxAgeMs: 1000,
    timeoutMs: 1000,
    now: () => 0,
    onError: () => undefined,
  });
  assert.deepEqual((await monitor.snapshot())?.partitions, []);
  assert.equal(calls.length, 0);
});
