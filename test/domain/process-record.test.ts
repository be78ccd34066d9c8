import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { WindowAggregate } from '../../src/domain/aggregate.js';
import type { HostInfo, ServerMetric } from '../../src/domain/metric.js';
import {
  closeWindows,
  processRecord,
  type DecodedInput,
  type RecordOutcome,
  type WindowTable,
} from '../../src/domain/process-record.js';
import { isWindowClosed, type WindowSpec } from '../../src/domain/window.js';

const spec: WindowSpec = { sizeMs: 60_000, graceMs: 10_000 };
const T0 = Date.UTC(2024, 0, 1);

/** The simplest table that honours the WindowTable contract, so these tests exercise only the domain step. */
class MemoryTable implements WindowTable {
  private time: number | null = null;
  readonly windows = new Map<string, WindowAggregate>();

  streamTimeMs(): number | null {
    return this.time;
  }
  get(host: string, windowStart: number): WindowAggregate | undefined {
    return this.windows.get(`${windowStart}|${host}`);
  }
  /** Every window here is the test's own: the step may fold into it in place. */
  getOwn(host: string, windowStart: number): WindowAggregate | undefined {
    return this.get(host, windowStart);
  }
  put(agg: WindowAggregate): void {
    this.windows.set(`${agg.windowStart}|${agg.host}`, agg);
  }
  advanceStreamTime(eventTimeMs: number): void {
    this.time = this.time === null ? eventTimeMs : Math.max(this.time, eventTimeMs);
  }
  takeClosedWindows(s: WindowSpec): WindowAggregate[] {
    const closed = [...this.windows.values()]
      .filter((a) => isWindowClosed(a.windowStart, s, this.time))
      .sort((a, b) => a.windowStart - b.windowStart || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    for (const a of closed) this.windows.delete(`${a.windowStart}|${a.host}`);
    return closed;
  }
}

function metric(host: string, timestamp: number, cpu = 50): DecodedInput {
  const m: ServerMetric = {
    host,
    timestamp,
    cpu_percent: cpu,
    mem_percent: 25,
    disk_read_bytes: 1,
    disk_write_bytes: 2,
    net_rx_bytes: 3,
    net_tx_bytes: 4,
    load_avg_1m: null,
  };
  return { kind: 'value', value: m };
}

const inventory = new Map<string, HostInfo>([
  ['web-1', { host: 'web-1', region: 'eu-west', datacenter: 'dub-1', role: 'web' }],
]);
const lookup = (host: string): HostInfo | undefined => inventory.get(host);

function run(table: WindowTable, input: DecodedInput): RecordOutcome {
  return processRecord(table, input, lookup, spec);
}

function closedKeys(outcome: RecordOutcome): string[] {
  if (outcome.kind !== 'aggregated') assert.fail(`expected aggregated, got ${outcome.kind}`);
  return outcome.closed.map((r) => `${r.window_start}|${r.host}`);
}

void test('a decode poison passes through as a dead letter unchanged', () => {
  const poison = { reason: 'avro-decode', message: 'truncated' } as const;
  assert.deepEqual(run(new MemoryTable(), { kind: 'poison', poison }), { kind: 'dead-letter', poison });
});

void test('poison never moves stream time or touches state', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0));
  run(table, { kind: 'poison', poison: { reason: 'null-value', message: 'null' } });
  run(table, metric('web-1', T0 + 3_600_000, 400));
  run(table, metric('', T0 + 3_600_000));
  assert.equal(table.streamTimeMs(), T0);
  assert.equal(table.windows.size, 1);
});

void test('an invalid metric becomes a dead letter with its validation reason', () => {
  const outcome = run(new MemoryTable(), metric('web-1', T0, 101));
  assert.equal(outcome.kind === 'dead-letter' ? outcome.poison.reason : outcome.kind, 'percent-out-of-range');
});

void test('a record whose window closed at the current stream time is a late dead letter naming window and stream time', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0 + 70_000));
  const outcome = run(table, metric('web-1', T0 + 59_999));
  if (outcome.kind !== 'dead-letter') assert.fail(`expected dead-letter, got ${outcome.kind}`);
  assert.equal(outcome.poison.reason, 'late');
  assert.match(outcome.poison.message, new RegExp(`\\[${T0}, ${T0 + 60_000}\\)`));
  assert.match(outcome.poison.message, new RegExp(`stream time is ${T0 + 70_000}`));
});

void test('a late record does not move stream time', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0 + 70_000));
  run(table, metric('web-1', T0));
  assert.equal(table.streamTimeMs(), T0 + 70_000);
});

void test('an out-of-order record within grace is aggregated into its window', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0 + 69_999));
  assert.equal(run(table, metric('web-1', T0 + 10)).kind, 'aggregated');
  assert.equal(table.get('web-1', T0)?.count, 1);
  assert.equal(table.get('web-1', T0 + 60_000)?.count, 1);
});

void test('stream time is the largest valid event time and never goes back', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0 + 5_000));
  run(table, metric('web-1', T0 + 1_000));
  assert.equal(table.streamTimeMs(), T0 + 5_000);
});

void test('stream time is per table: one table advancing closes nothing in another', () => {
  const a = new MemoryTable();
  const b = new MemoryTable();
  run(a, metric('web-1', T0));
  run(b, metric('web-1', T0));
  run(a, metric('web-1', T0 + 3_600_000));
  assert.equal(b.streamTimeMs(), T0);
  assert.equal(run(b, metric('web-1', T0 + 1)).kind, 'aggregated');
});

void test('a window emits its final rollup once, when stream time reaches start + size + grace', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0));
  assert.deepEqual(closedKeys(run(table, metric('web-1', T0 + 69_999))), []);
  assert.deepEqual(closedKeys(run(table, metric('web-1', T0 + 70_000))), [`${T0}|web-1`]);
  assert.deepEqual(closedKeys(run(table, metric('web-1', T0 + 70_001))), []);
});

void test('closed rollups come ordered by window start then host', () => {
  const table = new MemoryTable();
  run(table, metric('web-2', T0 + 60_000));
  run(table, metric('web-1', T0 + 60_000));
  run(table, metric('db-1', T0 + 60_000));
  assert.deepEqual(closedKeys(run(table, metric('web-1', T0 + 200_000))), [
    `${T0 + 60_000}|db-1`,
    `${T0 + 60_000}|web-1`,
    `${T0 + 60_000}|web-2`,
  ]);
});

void test('rollups carry the inventory of a known host and explicit unknowns for an unknown one', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0));
  run(table, metric('ghost', T0));
  const outcome = run(table, metric('web-1', T0 + 70_000));
  const regions = outcome.kind === 'aggregated' ? outcome.closed.map((r) => [r.host, r.region, r.role]) : [];
  assert.deepEqual(regions, [
    ['ghost', 'unknown', 'unknown'],
    ['web-1', 'eu-west', 'web'],
  ]);
});

void test('closeWindows after an idle advance of stream time emits the windows that advance closed', () => {
  const table = new MemoryTable();
  run(table, metric('web-1', T0));
  table.advanceStreamTime(T0 + 70_000);
  assert.deepEqual(
    closeWindows(table, spec).map((r) => r.window_start),
    [T0],
  );
});

void test('a record that would push a window byte sum past 2^53 is dead-lettered as processing-failed and leaves the window as it was', () => {
  const table = new MemoryTable();
  const big = (timestamp: number): DecodedInput => {
    const input = metric('web-1', timestamp);
    if (input.kind !== 'value') assert.fail('metric expected');
    return { kind: 'value', value: { ...input.value, disk_read_bytes: 2 ** 52 + 1 } };
  };
  assert.equal(run(table, big(T0)).kind, 'aggregated');
  const before = table.get('web-1', T0);
  const outcome = run(table, big(T0 + 1000));
  if (outcome.kind !== 'dead-letter') assert.fail(`expected a dead letter, got ${outcome.kind}`);
  assert.equal(outcome.poison.reason, 'processing-failed');
  assert.match(outcome.poison.message, /disk_read_bytes/);
  assert.equal(table.get('web-1', T0), before, 'state untouched');
  assert.equal(table.streamTimeMs(), T0, 'stream time untouched');
});
