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
