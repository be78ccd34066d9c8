/** The record collector: what one chunk's transaction sends, built without Kafka. */
import assert from 'node:assert/strict';
import type { TaskProcessor } from '../../src/engine/processor.js';
import { rollupOn } from './rollup-fixture.js';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';

import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import type { HostInfo } from '../../src/domain/metric.js';
import { MAX_PROCESSING_ATTEMPTS } from '../../src/engine/attempt-policy.js';
import { FaultInjector, parseFaultSpecs } from '../../src/engine/faults.js';
import type { OutgoingRecord } from '../../src/engine/ports.js';
import {
  RecordCollector,
  RecordProcessingError,
  type CollectorDependencies,
} from '../../src/engine/record-collector.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { FakeBroker, FakeDecoder, T0, message, metricValue } from './fakes.js';

const P = 5;
const TOPICS = { input: 'in', output: 'out', dlq: 'dlq', changelog: 'cl', dlqPartitions: 2 };
const INVENTORY = new Map<string, HostInfo>([
  ['a', { host: 'a', region: 'eu', datacenter: 'd1', role: 'web' }],
  ['b', { host: 'b', region: 'eu', datacenter: 'd1', role: 'db' }],
]);
const NORMAL = { mode: 'normal' } as const;

function collector(options: { faults?: string } = {}): RecordCollector {
  const deps: CollectorDependencies = {
    incarnation: 'inst.t1',
    stage: { id: 'app/inst', version: '1.0.0' },
    topics: TOPICS,
    outputPartition: (key) => key.length,
    faults: new FaultInjector(parseFaultSpecs(options.faults)),
    now: () => 42,
  };
  return new RecordCollector(P, deps);
}

/** The rollup over a store the test holds, so it can look at the committed windows. */
const rollup = (store: WindowStore): TaskProcessor =>
  rollupOn(store, {
    windows: { sizeMs: 60_000, graceMs: 10_000 },
    decoder: new FakeDecoder(new FakeBroker()),
    encodeRollup: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    lookupHost: (host) => INVENTORY.get(host),
  });

const header = (record: OutgoingRecord | undefined, name: string): unknown => record?.headers[name];

void test('a chunk that closes a window: its rollup to the output partition of its key, its changelog to the task’s partition, all with one lineage', () => {
  const store = new WindowStore();
  const chunk = [
    message(0, metricValue('a', T0)),
    message(1, 'bad record'),
    message(2, metricValue('a', T0 + 75_000)),
  ];
  const prepared = collector().collect(rollup(store), chunk, 3n, NORMAL);
  assert.equal(prepared.rollups, 1);
  assert.equal(prepared.outputs[0]?.topic, 'out');
  assert.equal(prepared.outputs[0].partition, 1, 'the partitioner was asked with the host key "a"');
  assert.deepEqual(prepared.outputs[0].key, Buffer.from('a'));
  assert.ok(prepared.changelog.length > 0);
  for (const record of prepared.changelog) {
    assert.equal(record.topic, 'cl');
    assert.equal(record.partition, P);
  }
  const all = [...prepared.outputs, ...prepared.deadLetters, ...prepared.changelog];
  for (const record of all) {
    assert.equal(header(record, LINEAGE_HEADERS.attempt), prepared.attemptId);
    assert.equal(header(record, LINEAGE_HEADERS.firstOffset), '0');
    assert.equal(header(record, LINEAGE_HEADERS.lastOffset), '2');
    assert.equal(header(record, LINEAGE_HEADERS.records), String(all.length));
  }
  assert.equal(prepared.deadLetters.length, 1, 'the poison pill at offset 1');
  assert.equal(store.windowCount, 0, 'nothing applied: the store changes only when the task commits');
  prepared.storeTx.discard();
});

void test('a poison pill goes to the DLQ raw, to source partition mod DLQ partitions, with its reason', () => {
  const raw = Buffer.from('bad bytes');
  const prepared = collector().collect(rollup(new WindowStore()), [message(7, raw)], 8n, NORMAL);
  const dead = prepared.deadLetters[0];
  assert.equal(dead?.topic, 'dlq');
  assert.equal(dead.partition, P % TOPICS.dlqPartitions);
  assert.deepEqual(dead.value, raw, 'the bytes untouched');
  assert.ok(header(dead, DLQ_HEADERS.reason));
  assert.deepEqual(prepared.deadLettered, [{ reason: header(dead, DLQ_HEADERS.reason), offset: 7n }]);
  prepared.storeTx.discard();
});

void test('transactional attempt ids are unique per try: the incarnation, the partition, then a counter', () => {
  const c = collector();
  const store = new WindowStore();
  const ids = [0, 1, 2].map((i) => {
    const prepared = c.collect(rollup(store), [message(i, metricValue('a', T0 + i))], BigInt(i + 1), NORMAL);
    prepared.storeTx.discard();
    return prepared.attemptId;
  });
  assert.equal(new Set(ids).size, 3);
  for (const id of ids) assert.ok(id.startsWith(`inst.t1/p${P}`), id);
});

void test('an offsets-only advance of stream time closes windows and still carries a lineage', () => {
  const store = new WindowStore();
  const c = collector();
  const first = c.collect(rollup(store), [message(0, metricValue('a', T0))], 1n, NORMAL);
  first.storeTx.apply();
  const flush = c.collect(rollup(store), [], 1n, NORMAL, T0 + 80_000);
  assert.equal(flush.rollups, 1);
  assert.equal(flush.inputRecords, 0);
  assert.equal(header(flush.outputs[0], LINEAGE_HEADERS.lastOffset), '0');
  flush.storeTx.discard();
});

void test('a record whose processing throws is retried; after MAX_PROCESSING_ATTEMPTS failures it is dead-lettered', () => {
  const c = collector({ faults: 'process-record@o1:throw' });
  const store = new WindowStore();
  const chunk = [message(0, metricValue('a', T0)), message(1, metricValue('a', T0 + 1))];
  for (let failure = 1; failure <= MAX_PROCESSING_ATTEMPTS; failure += 1) {
    assert.throws(
      () => c.collect(rollup(store), chunk, 2n, NORMAL),
      (error) => error instanceof RecordProcessingError && error.offset === 1n,
    );
    assert.doesNotThrow(() => {
      store.begin().discard();
    }, 'the failed store transaction was discarded');
  }
  const prepared = c.collect(rollup(store), chunk, 2n, NORMAL);
  assert.deepEqual(
    prepared.deadLettered.map((d) => d.offset),
    [1n],
  );
  assert.match(String(header(prepared.deadLetters[0], DLQ_HEADERS.message)), /3 attempts: /);
  prepared.storeTx.discard();
});

void test('processing failures below a committed offset are forgotten', () => {
  const c = collector({ faults: 'process-record@o0:throw' });
  const store = new WindowStore();
  assert.throws(() => c.collect(rollup(store), [message(0, metricValue('a', T0))], 1n, NORMAL));
  c.committedUpTo(1n);
  for (let i = 1; i < MAX_PROCESSING_ATTEMPTS; i += 1) {
    assert.throws(() => c.collect(rollup(store), [message(0, metricValue('a', T0))], 1n, NORMAL));
  }
  // Two failures since the commit forgot the first: one more try, not a dead letter.
  assert.throws(() => c.collect(rollup(store), [message(0, metricValue('a', T0))], 1n, NORMAL));
});

void test('a record that crashed the process alone (plan dead-letter) is dead-lettered without processing', () => {
  const plan = { mode: 'dead-letter', until: 2n, crashes: 3 } as const;
  const prepared = collector({ faults: 'process-record@o0:throw' }).collect(
    rollup(new WindowStore()),
    [message(0, metricValue('a', T0))],
    1n,
    plan,
  );
  assert.equal(prepared.deadLettered[0]?.reason, 'processing-failed');
  assert.match(String(header(prepared.deadLetters[0], DLQ_HEADERS.message)), /crashed the process 3 times/);
  prepared.storeTx.discard();
});
