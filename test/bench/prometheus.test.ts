import assert from 'node:assert/strict';
import { test } from 'node:test';

import { histogramDelta, histogramQuantile, readHistogram, readTotal } from '../../bench/lib/prometheus.js';

const SCRAPE = `# HELP eos_rollup_commit_latency_seconds One committed transaction.
# TYPE eos_rollup_commit_latency_seconds histogram
eos_rollup_commit_latency_seconds_bucket{le="0.1"} 10
eos_rollup_commit_latency_seconds_bucket{le="0.5"} 90
eos_rollup_commit_latency_seconds_bucket{le="1"} 100
eos_rollup_commit_latency_seconds_bucket{le="+Inf"} 100
eos_rollup_commit_latency_seconds_sum 31.5
eos_rollup_commit_latency_seconds_count 100
# TYPE eos_rollup_transactions_committed_total counter
eos_rollup_transactions_committed_total{partition="0"} 60
eos_rollup_transactions_committed_total{partition="1"} 40
eos_rollup_transactions_committed_total_other 7
`;

void test('a histogram is read with its cumulative buckets in ascending order, +Inf last', () => {
  const histogram = readHistogram(SCRAPE, 'eos_rollup_commit_latency_seconds');
  assert.deepEqual(histogram, {
    buckets: [
      { le: 0.1, count: 10 },
      { le: 0.5, count: 90 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ],
    sum: 31.5,
    count: 100,
  });
});

void test('an absent histogram is undefined, not empty', () => {
  assert.equal(readHistogram(SCRAPE, 'nope_seconds'), undefined);
});

void test('quantiles interpolate inside the bucket that holds the rank, as histogram_quantile does', () => {
  const histogram = readHistogram(SCRAPE, 'eos_rollup_commit_latency_seconds');
  assert.ok(histogram);
  const near = (actual: number | null, expected: number) => {
    assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);
  };
  // rank 50 lies in (0.1, 0.5] holding ranks 10..90: 0.1 + 0.4 * 40/80.
  near(histogramQuantile(histogram, 0.5), 0.3);
  // rank 5 lies in the first bucket, interpolated from 0.
  near(histogramQuantile(histogram, 0.05), 0.05);
  // rank 99 lies in (0.5, 1] holding ranks 90..100.
  near(histogramQuantile(histogram, 0.99), 0.95);
});

void test('a rank in the +Inf bucket gives the highest finite bound', () => {
  const histogram = {
    buckets: [
      { le: 1, count: 1 },
      { le: Infinity, count: 10 },
    ],
    sum: 0,
    count: 10,
  };
  assert.equal(histogramQuantile(histogram, 0.99), 1);
});

void test('an empty histogram has no quantile', () => {
  assert.equal(histogramQuantile({ buckets: [{ le: Infinity, count: 0 }], sum: 0, count: 0 }, 0.5), null);
});

void test('counters are summed over their label sets and other names are left alone', () => {
  assert.equal(readTotal(SCRAPE, 'eos_rollup_transactions_committed_total'), 100);
  assert.equal(readTotal(SCRAPE, 'absent_total'), 0);
});

void test('the delta of two scrapes holds only the observations made between them', () => {
  const before = {
    buckets: [
      { le: 1, count: 2 },
      { le: Infinity, count: 3 },
    ],
    sum: 1,
    count: 3,
  };
  const after = {
    buckets: [
      { le: 1, count: 5 },
      { le: Infinity, count: 9 },
    ],
    sum: 4,
    count: 9,
  };
  assert.deepEqual(histogramDelta(after, before), {
    buckets: [
      { le: 1, count: 3 },
      { le: Infinity, count: 6 },
    ],
    sum: 3,
    count: 6,
  });
});
