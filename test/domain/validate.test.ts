import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ServerMetric } from '../../src/domain/metric.js';
import { validateMetric } from '../../src/domain/validate.js';

function metric(overrides: Partial<ServerMetric> = {}): ServerMetric {
  return {
    host: 'web-1',
    timestamp: Date.UTC(2024, 0, 1),
    cpu_percent: 12.5,
    mem_percent: 48,
    disk_read_bytes: 1024,
    disk_write_bytes: 2048,
    net_rx_bytes: 4096,
    net_tx_bytes: 8192,
    load_avg_1m: 0.75,
    ...overrides,
  };
}

function reasonOf(overrides: Partial<ServerMetric>): string | undefined {
  return validateMetric(metric(overrides))?.reason;
}

void test('a well-formed metric passes validation', () => {
  assert.equal(validateMetric(metric()), null);
});

void test('a v1 metric without load average (null) passes validation', () => {
  assert.equal(validateMetric(metric({ load_avg_1m: null })), null);
});

void test('0 and 100 percent are inside the allowed range', () => {
  assert.equal(validateMetric(metric({ cpu_percent: 0, mem_percent: 100 })), null);
  assert.equal(validateMetric(metric({ cpu_percent: 100, mem_percent: 0 })), null);
});

void test('zero counters are valid', () => {
  assert.equal(
    validateMetric(metric({ disk_read_bytes: 0, disk_write_bytes: 0, net_rx_bytes: 0, net_tx_bytes: 0 })),
    null,
  );
});

void test('timestamps exactly at 2000-01-01 and 2100-01-01 are valid', () => {
  assert.equal(validateMetric(metric({ timestamp: Date.UTC(2000, 0, 1) })), null);
  assert.equal(validateMetric(metric({ timestamp: Date.UTC(2100, 0, 1) })), null);
});

void test('an empty or blank host is poison empty-host', () => {
  assert.equal(reasonOf({ host: '' }), 'empty-host');
  assert.equal(reasonOf({ host: ' \t\n' }), 'empty-host');
});

void test('NaN or infinite cpu, mem or load is poison non-finite-value', () => {
  assert.equal(reasonOf({ cpu_percent: Number.NaN }), 'non-finite-value');
  assert.equal(reasonOf({ mem_percent: Number.POSITIVE_INFINITY }), 'non-finite-value');
  assert.equal(reasonOf({ load_avg_1m: Number.NEGATIVE_INFINITY }), 'non-finite-value');
  assert.equal(reasonOf({ load_avg_1m: Number.NaN }), 'non-finite-value');
});

void test('cpu or mem outside 0-100 is poison percent-out-of-range', () => {
  assert.equal(reasonOf({ cpu_percent: 100.0001 }), 'percent-out-of-range');
  assert.equal(reasonOf({ cpu_percent: -0.1 }), 'percent-out-of-range');
  assert.equal(reasonOf({ mem_percent: 101 }), 'percent-out-of-range');
});

void test('a negative, fractional or unsafe counter is poison negative-counter', () => {
  assert.equal(reasonOf({ disk_read_bytes: -1 }), 'negative-counter');
  assert.equal(reasonOf({ disk_write_bytes: 1.5 }), 'negative-counter');
  assert.equal(reasonOf({ net_rx_bytes: Number.MAX_SAFE_INTEGER + 1 }), 'negative-counter');
  assert.equal(reasonOf({ net_tx_bytes: Number.NaN }), 'negative-counter');
});

void test('a timestamp before 2000-01-01, after 2100-01-01 or fractional is poison timestamp-out-of-range', () => {
  assert.equal(reasonOf({ timestamp: Date.UTC(2000, 0, 1) - 1 }), 'timestamp-out-of-range');
  assert.equal(reasonOf({ timestamp: Date.UTC(2100, 0, 1) + 1 }), 'timestamp-out-of-range');
  assert.equal(reasonOf({ timestamp: 0 }), 'timestamp-out-of-range');
  assert.equal(reasonOf({ timestamp: Date.UTC(2024, 0, 1) + 0.5 }), 'timestamp-out-of-range');
});

void test('the poison message names the offending field and its value', () => {
  const poison = validateMetric(metric({ net_tx_bytes: -42 }));
  assert.match(poison?.message ?? '', /net_tx_bytes/);
  assert.match(poison?.message ?? '', /-42/);
});

/** Values each field may take, split by whether the contract (design §4) accepts them. */
const FIELD_VALUES: { [K in keyof ServerMetric]: { good: ServerMetric[K][]; bad: ServerMetric[K][] } } = {
  host: { good: ['web-1', ' db-2 '], bad: ['', '   ', '\t\n'] },
  timestamp: {
    good: [Date.UTC(2000, 0, 1), Date.UTC(2024, 5, 1), Date.UTC(2100, 0, 1)],
    bad: [Date.UTC(1999, 11, 31), Date.UTC(2100, 0, 1) + 1, Date.UTC(2024, 0, 1) + 0.5, NaN],
  },
  cpu_percent: { good: [0, 0.01, 55.5, 100], bad: [-0.01, 100.01, NaN, Infinity, -Infinity] },
  mem_percent: { good: [0, 99.99, 100], bad: [-1, 101, NaN, Infinity] },
  disk_read_bytes: {
    good: [0, 1, Number.MAX_SAFE_INTEGER],
    bad: [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN],
  },
  disk_write_bytes: { good: [0, 7], bad: [-7, 0.1, Infinity] },
  net_rx_bytes: { good: [0, 123_456], bad: [-1, 2 ** 60] },
  net_tx_bytes: { good: [0, 9], bad: [-9, NaN] },
  load_avg_1m: { good: [null, 0, 3.5], bad: [NaN, Infinity, -Infinity] },
};

void test('a metric passes validation exactly when every field holds an accepted value, in any combination', () => {
  let state = 12_345;
  const random = (n: number): number => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    // The high bits: an LCG's low bits repeat with a short period.
    return (state >>> 16) % n;
  };
  const fields = Object.keys(FIELD_VALUES) as (keyof ServerMetric)[];
  for (let round = 0; round < 5_000; round += 1) {
    const built: Record<string, unknown> = {};
    let broken = 0;
    for (const field of fields) {
      const { good, bad } = FIELD_VALUES[field] as { good: unknown[]; bad: unknown[] };
      // Mostly good values, so that single broken fields and fully valid metrics are both common.
      const takeBad = random(8) === 0;
      const from = takeBad ? bad : good;
      built[field] = from[random(from.length)];
      if (takeBad) broken += 1;
    }
    const verdict = validateMetric(built as unknown as ServerMetric);
    assert.equal(verdict === null, broken === 0, `${JSON.stringify(built)} → ${JSON.stringify(verdict)}`);
  }
});
