import assert from 'node:assert/strict';
import { test } from 'node:test';

import { accumulate, type WindowAggregate } from '../../src/domain/aggregate.js';
import { UNKNOWN_ENRICHMENT } from '../../src/domain/enrich.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { processRecord, type DecodedInput, type RecordOutcome } from '../../src/domain/process-record.js';
import type { WindowSpec } from '../../src/domain/window.js';
import { ChangelogCorruptError, decodeChangelogEntry } from '../../src/rollup/changelog-codec.js';
import { WindowStore, type ChangelogEntry, type StoreTransaction } from '../../src/rollup/window-store.js';

const spec: WindowSpec = { sizeMs: 60_000, graceMs: 10_000 };
const T0 = Date.UTC(2024, 0, 1);

function metric(host: string, timestamp: number, cpu = 50): ServerMetric {
  return {
    host,
    timestamp,
    cpu_percent: cpu,
    mem_percent: 25,
    disk_read_bytes: 10,
    disk_write_bytes: 20,
    net_rx_bytes: 30,
    net_tx_bytes: 40,
    load_avg_1m: null,
  };
}

function agg(host: string, windowStart: number, cpu = 50, prev?: WindowAggregate): WindowAggregate {
  return accumulate(prev, metric(host, windowStart + 1, cpu), windowStart, UNKNOWN_ENRICHMENT);
}

function feed(txn: StoreTransaction, host: string, timestamp: number, cpu = 50): RecordOutcome {
  const input: DecodedInput = { kind: 'value', value: metric(host, timestamp, cpu) };
  return processRecord(txn, input, () => undefined, spec);
}

/** A store with two committed windows at T0 and stream time T0 + 30 s. */
function committedStore(): WindowStore {
  const store = new WindowStore();
  const txn = store.begin();
  feed(txn, 'web-2', T0 + 10_000);
  feed(txn, 'web-1', T0 + 30_000);
  txn.apply();
  return store;
}

/** What a reader can observe: committed windows, their count and stream time. */
function observe(store: WindowStore): unknown {
  return { windows: store.snapshot(), count: store.windowCount, streamTimeMs: store.streamTimeMs };
}

function decoded(entries: ChangelogEntry[]): unknown[] {
  return entries.map((e) => decodeChangelogEntry(e.key, e.value));
}

void test('a transaction reads its own writes before apply while the committed store stays unchanged', () => {
  const store = committedStore();
  const before = observe(store);
  const txn = store.begin();
  feed(txn, 'web-1', T0 + 40_000);
  assert.equal(txn.get('web-1', T0)?.count, 2);
  assert.equal(txn.streamTimeMs(), T0 + 40_000);
  assert.deepEqual(observe(store), before);
  txn.discard();
});

void test('apply after commit makes the transaction writes and stream time visible in the store', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-1', T0 + 40_000);
  feed(txn, 'db-1', T0 + 61_000);
  txn.apply();
  assert.equal(store.streamTimeMs, T0 + 61_000);
  assert.equal(store.windowCount, 3);
  const next = store.begin();
  assert.equal(next.get('web-1', T0)?.count, 2);
  assert.equal(next.get('db-1', T0 + 60_000)?.count, 1);
  next.discard();
});

void test('apply removes the windows the transaction closed from the store', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-1', T0 + 70_000);
  txn.apply();
  assert.deepEqual(
    store.snapshot().map((a) => [a.host, a.windowStart]),
    [['web-1', T0 + 60_000]],
  );
});

void test('discard after abort restores exactly the previous state, including stream time and closed windows', () => {
  const store = committedStore();
  const before = observe(store);
  const txn = store.begin();
  feed(txn, 'web-1', T0 + 50_000);
  const outcome = feed(txn, 'web-3', T0 + 200_000);
  assert.equal(outcome.kind === 'aggregated' ? outcome.closed.length : -1, 2);
  txn.discard();
  assert.deepEqual(observe(store), before);

  const retry = store.begin();
  assert.equal(retry.streamTimeMs(), T0 + 30_000);
  assert.equal(retry.get('web-1', T0)?.count, 1);
  retry.advanceStreamTime(T0 + 200_000);
  assert.deepEqual(
    retry.takeClosedWindows(spec).map((a) => a.host),
    ['web-1', 'web-2'],
  );
  retry.discard();
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

void test('committed aggregates are never mutated by a transaction, however often it folds into their windows', () => {
  const store = committedStore();
  const committed = store.snapshot();
  const frozen = structuredClone(committed);
  // Frozen to the last nested object: a write to any of them throws here (modules are strict).
  for (const a of committed) deepFreeze(a);
  const txn = store.begin();
  feed(txn, 'web-1', T0 + 40_000);
  feed(txn, 'web-1', T0 + 41_000); // into the copy the first made, in place
  assert.equal(txn.getOwn('web-1', T0)?.count, 3);
  assert.equal(txn.getOwn('web-2', T0), undefined, 'it is committed: not this transaction to change');
  feed(txn, 'web-2', T0 + 100_000);
  txn.apply();
  assert.deepEqual(committed, frozen);
});

void test('a discarded transaction leaves the windows it folded into in place as they were committed', () => {
  const store = committedStore();
  const first = store.begin();
  feed(first, 'web-1', T0 + 40_000);
  feed(first, 'web-1', T0 + 41_000);
  first.apply();
  const before = observe(store);
  const second = store.begin();
  feed(second, 'web-1', T0 + 42_000);
  feed(second, 'web-1', T0 + 43_000);
  feed(second, 'web-1', T0 + 44_000);
  assert.equal(second.get('web-1', T0)?.count, 6);
  second.discard();
  assert.deepEqual(observe(store), before);
  assert.equal(store.snapshot().find((a) => a.host === 'web-1')?.count, 3);
});

void test('takeClosedWindows returns committed and own windows together, ordered by windowStart then host', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-0', T0 + 5_000);
  feed(txn, 'db-9', T0 + 65_000);
  feed(txn, 'app-1', T0 + 65_000);
  txn.advanceStreamTime(T0 + 130_000);
  assert.deepEqual(
    txn.takeClosedWindows(spec).map((a) => [a.windowStart, a.host]),
    [
      [T0, 'web-0'],
      [T0, 'web-1'],
      [T0, 'web-2'],
      [T0 + 60_000, 'app-1'],
      [T0 + 60_000, 'db-9'],
    ],
  );
  assert.equal(txn.get('web-1', T0), undefined);
  assert.deepEqual(txn.takeClosedWindows(spec), []);
  txn.discard();
});

void test('prepare gives the latest value per changed key, tombstones for closed windows, then the new stream time', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-3', T0 + 61_000, 10);
  feed(txn, 'web-3', T0 + 62_000, 30);
  feed(txn, 'web-1', T0 + 70_000, 20);
  assert.deepEqual(decoded(txn.prepare()), [
    { kind: 'window', host: 'web-1', windowStart: T0, aggregate: null },
    { kind: 'window', host: 'web-2', windowStart: T0, aggregate: null },
    { kind: 'window', host: 'web-1', windowStart: T0 + 60_000, aggregate: txn.get('web-1', T0 + 60_000) },
    { kind: 'window', host: 'web-3', windowStart: T0 + 60_000, aggregate: txn.get('web-3', T0 + 60_000) },
    { kind: 'stream-time', streamTimeMs: T0 + 70_000 },
  ]);
  assert.equal(txn.get('web-3', T0 + 60_000)?.count, 2);
  txn.discard();
});

void test('a window created and closed in one transaction never reaches the changelog; a committed one closed gets its tombstone', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-4', T0 + 40_000);
  const outcome = feed(txn, 'web-1', T0 + 70_000);
  assert.deepEqual(
    outcome.kind === 'aggregated' ? outcome.closed.map((r) => r.host) : [],
    ['web-1', 'web-2', 'web-4'],
    'all three emitted once',
  );
  assert.deepEqual(decoded(txn.prepare()).slice(0, 2), [
    { kind: 'window', host: 'web-1', windowStart: T0, aggregate: null },
    { kind: 'window', host: 'web-2', windowStart: T0, aggregate: null },
  ]);
  assert.equal(
    decoded(txn.prepare()).some((e) => (e as { host?: string }).host === 'web-4'),
    false,
    'web-4 never reached the changelog: nothing to delete',
  );
  txn.discard();
});

void test('prepare is empty and nothing is pending when a transaction changed nothing', () => {
  const store = committedStore();
  const txn = store.begin();
  feed(txn, 'web-1', T0 - 3_600_000);
  assert.deepEqual(txn.prepare(), []);
  assert.equal(txn.hasPendingWrites(), false);
  txn.advanceStreamTime(T0 + 30_000);
  assert.equal(txn.hasPendingWrites(), false);
  txn.advanceStreamTime(T0 + 30_001);
  assert.equal(txn.hasPendingWrites(), true);
  txn.discard();
});

void test('prepare orders entries deterministically whatever the write order', () => {
  const entriesFor = (hosts: string[]): string[] => {
    const store = new WindowStore();
    const txn = store.begin();
    for (const host of hosts) txn.put(agg(host, T0));
    const out = txn.prepare().map((e) => e.key.toString('utf8'));
    txn.discard();
    return out;
  };
  assert.deepEqual(entriesFor(['c', 'a', 'b']), entriesFor(['b', 'c', 'a']));
});

void test('a window re-created at a start closed earlier in the same transaction survives apply', () => {
  const store = committedStore();
  const txn = store.begin();
  txn.advanceStreamTime(T0 + 70_000);
  txn.takeClosedWindows(spec);
  txn.put(agg('web-9', T0));
  assert.equal(txn.get('web-1', T0), undefined);
  txn.apply();
  assert.deepEqual(
    store.snapshot().map((a) => a.host),
    ['web-9'],
  );
});

void test('opening a second transaction while one is open throws', () => {
  const store = new WindowStore();
  store.begin();
  assert.throws(() => {
    store.begin();
  }, /transaction is open/);
});

void test('a new transaction can begin after apply or discard', () => {
  const store = new WindowStore();
  store.begin().apply();
  store.begin().discard();
  assert.doesNotThrow(() => store.begin());
});

void test('a transaction is unusable after apply or discard', () => {
  const store = new WindowStore();
  const applied = store.begin();
  applied.apply();
  assert.throws(() => {
    applied.put(agg('web-1', T0));
  }, /closed/);
  assert.throws(() => {
    applied.apply();
  }, /closed/);
  const discarded = store.begin();
  discarded.discard();
  assert.throws(() => {
    discarded.prepare();
  }, /closed/);
  assert.throws(() => {
    discarded.discard();
  }, /closed/);
});

void test('restore and clear refuse to run while a transaction is open', () => {
  const store = new WindowStore();
  const txn = store.begin();
  txn.put(agg('web-1', T0));
  const [entry] = txn.prepare();
  assert.throws(() => {
    store.restore(entry!.key, entry!.value);
  }, /transaction is open/);
  assert.throws(() => {
    store.clear();
  }, /transaction is open/);
});

void test('restoring the changelog of a live run, tombstones included, rebuilds the same state (app-1 opened and closed in one transaction, never written)', () => {
  const live = new WindowStore();
  const changelog: ChangelogEntry[] = [];
  const batches: [string, number][][] = [
    [
      ['web-1', T0 + 1_000],
      ['web-2', T0 + 2_000],
    ],
    [
      ['web-1', T0 + 61_000],
      ['web-2', T0 + 5_000],
    ],
    [
      ['app-1', T0 + 20_000],
      ['db-1', T0 + 71_000],
      ['web-1', T0 + 125_000],
    ],
  ];
  for (const batch of batches) {
    const txn = live.begin();
    for (const [host, t] of batch) feed(txn, host, t);
    changelog.push(...txn.prepare());
    txn.apply();
  }
  assert.ok(changelog.some((e) => e.value === null));

  const restored = new WindowStore();
  for (const e of changelog) restored.restore(e.key, e.value);
  assert.deepEqual(observe(restored), observe(live));

  const a = live.begin();
  const b = restored.begin();
  assert.deepEqual(feed(b, 'web-2', T0 + 300_000), feed(a, 'web-2', T0 + 300_000));
  assert.deepEqual(decoded(b.prepare()), decoded(a.prepare()));
});

void test('restore applies latest-wins and a tombstone deletes the window', () => {
  const source = new WindowStore();
  const txn = source.begin();
  txn.put(agg('web-1', T0, 10));
  const [first] = txn.prepare();
  txn.put(agg('web-1', T0, 90));
  const [second] = txn.prepare();
  txn.discard();

  const store = new WindowStore();
  store.restore(first!.key, first!.value);
  store.restore(second!.key, second!.value);
  assert.equal(store.snapshot()[0]?.cpu.max, 90);
  store.restore(second!.key, null);
  assert.equal(store.windowCount, 0);
});

void test('restoring a corrupt changelog entry throws ChangelogCorruptError', () => {
  const store = new WindowStore();
  assert.throws(() => {
    store.restore(Buffer.from('["w","web-1",0]'), Buffer.from('{"v":9}'));
  }, ChangelogCorruptError);
});

void test('clear empties the windows and forgets stream time', () => {
  const store = committedStore();
  store.clear();
  assert.deepEqual(observe(store), { windows: [], count: 0, streamTimeMs: null });
});
