import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  accumulate,
  accumulateInPlace,
  toRollup,
  type Enrichment,
  type WindowAggregate,
} from '../../src/domain/aggregate.js';
import type { MetricRollup, ServerMetric } from '../../src/domain/metric.js';

const W = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const EU: Enrichment = { region: 'eu-west', datacenter: 'dub-1', role: 'web' };

function metric(overrides: Partial<ServerMetric>): ServerMetric {
  return {
    host: 'web-1',
    timestamp: T0,
    cpu_percent: 0,
    mem_percent: 0,
    disk_read_bytes: 0,
    disk_write_bytes: 0,
    net_rx_bytes: 0,
    net_tx_bytes: 0,
    load_avg_1m: null,
    ...overrides,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const sample = [
  metric({
    timestamp: T0 + 30_000,
    cpu_percent: 10,
    mem_percent: 40,
    disk_read_bytes: 100,
    disk_write_bytes: 200,
    net_rx_bytes: 1000,
    net_tx_bytes: 2000,
  }),
  metric({
    timestamp: T0 + 5_000,
    cpu_percent: 30,
    mem_percent: 20,
    disk_read_bytes: 50,
    disk_write_bytes: 0,
    net_rx_bytes: 500,
    net_tx_bytes: 0,
  }),
  metric({
    timestamp: T0 + 59_999,
    cpu_percent: 20,
    mem_percent: 60,
    disk_read_bytes: 0,
    disk_write_bytes: 300,
    net_rx_bytes: 1,
    net_tx_bytes: 7,
  }),
];

function fold(metrics: ServerMetric[], enrichment: Enrichment = EU): WindowAggregate | undefined {
  return metrics.reduce<WindowAggregate | undefined>(
    (agg, m) => accumulate(agg, m, T0, enrichment),
    undefined,
  );
}

void test('the rollup of a hand-computed example has the expected count, stats, byte sums and event times', () => {
  const expected: MetricRollup = {
    host: 'web-1',
    region: 'eu-west',
    datacenter: 'dub-1',
    role: 'web',
    window_start: T0,
    window_end: T0 + W,
    count: 3,
    cpu_percent: { min: 10, max: 30, sum: 60, avg: 20 },
    mem_percent: { min: 20, max: 60, sum: 120, avg: 40 },
    disk_read_bytes: 150,
    disk_write_bytes: 500,
    net_rx_bytes: 1501,
    net_tx_bytes: 2007,
    first_event_time: T0 + 5_000,
    last_event_time: T0 + 59_999,
  };
  assert.deepEqual(toRollup(fold(sample)!, W), expected);
});

void test('a single-record rollup has min = max = sum = avg', () => {
  const rollup = toRollup(accumulate(undefined, sample[0]!, T0, EU), W);
  assert.deepEqual(rollup.cpu_percent, { min: 10, max: 10, sum: 10, avg: 10 });
  assert.equal(rollup.first_event_time, rollup.last_event_time);
});

void test('accumulate returns a new aggregate and never mutates the previous one', () => {
  const prev = deepFreeze(accumulate(undefined, sample[0]!, T0, EU));
  const before = structuredClone(prev);
  const next = accumulate(prev, sample[1]!, T0, EU);
  assert.notEqual(next, prev);
  assert.deepEqual(prev, before);
  assert.equal(next.count, 2);
});

void test('the enrichment of a window is that of the latest record accumulated', () => {
  const moved: Enrichment = { region: 'us-east', datacenter: 'iad-2', role: 'web' };
  const agg = accumulate(accumulate(undefined, sample[0]!, T0, EU), sample[1]!, T0, moved);
  assert.deepEqual(agg.enrichment, moved);
});

void test('accumulate refuses to fold a record into an aggregate of another host or window', () => {
  const agg = accumulate(undefined, sample[0]!, T0, EU);
  assert.throws(() => accumulate(agg, metric({ host: 'web-2' }), T0, EU), RangeError);
  assert.throws(() => accumulate(agg, sample[1]!, T0 + W, EU), RangeError);
});

void test('copying and folding in place both give the window computed from the whole list, enrichment changes included', () => {
  const moved: Enrichment = { region: 'us-east', datacenter: 'iad-2', role: 'web' };
  const enrichments = [EU, EU, moved, moved, EU];
  const metrics = [...sample, sample[1]!, sample[0]!];
  // The expectation from the list at once, not through either fold.
  const over = (pick: (m: ServerMetric) => number) => {
    const values = metrics.map(pick);
    return { min: Math.min(...values), max: Math.max(...values), sum: values.reduce((a, b) => a + b, 0) };
  };
  const expected: WindowAggregate = {
    host: 'web-1',
    windowStart: T0,
    count: metrics.length,
    cpu: over((m) => m.cpu_percent),
    mem: over((m) => m.mem_percent),
    disk_read_bytes: over((m) => m.disk_read_bytes).sum,
    disk_write_bytes: over((m) => m.disk_write_bytes).sum,
    net_rx_bytes: over((m) => m.net_rx_bytes).sum,
    net_tx_bytes: over((m) => m.net_tx_bytes).sum,
    first_event_time: over((m) => m.timestamp).min,
    last_event_time: over((m) => m.timestamp).max,
    enrichment: EU,
  };
  let copied: WindowAggregate | undefined;
  let inPlace: WindowAggregate | undefined;
  metrics.forEach((m, i) => {
    const enrichment = enrichments[i]!;
    copied = accumulate(copied, m, T0, enrichment);
    if (inPlace === undefined) inPlace = accumulate(undefined, m, T0, enrichment);
    else accumulateInPlace(inPlace, m, enrichment);
  });
  assert.deepEqual(copied, expected);
  assert.deepEqual(inPlace, expected);
  assert.notEqual(inPlace.enrichment, EU, 'the enrichment is copied, never the object passed in');
});

void test('a window whose byte counters were only ever -0 sums to 0, as a fold from 0 does', () => {
  const zero = metric({ disk_read_bytes: -0, disk_write_bytes: -0, net_rx_bytes: -0, net_tx_bytes: -0 });
  for (const agg of [
    accumulate(undefined, zero, T0, EU),
    accumulate(accumulate(undefined, zero, T0, EU), zero, T0, EU),
  ])
    for (const sum of [agg.disk_read_bytes, agg.disk_write_bytes, agg.net_rx_bytes, agg.net_tx_bytes])
      assert.equal(Object.is(sum, 0), true);
});

void test('folding in place refuses a record of another host', () => {
  const agg = accumulate(undefined, sample[0]!, T0, EU);
  assert.throws(() => {
    accumulateInPlace(agg, metric({ host: 'web-2' }), EU);
  }, RangeError);
  assert.equal(agg.count, 1);
});
