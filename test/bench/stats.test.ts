import assert from 'node:assert/strict';
import { test } from 'node:test';

import { mean, median, medianOf, quantile, round } from '../../bench/lib/stats.js';

void test('the median of an odd count is the middle value, whatever the input order', () => {
  assert.equal(median([9, 1, 5]), 5);
});

void test('the median of an even count is the mean of the two middle values', () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

void test('quantiles interpolate linearly between the nearest ranks (type 7)', () => {
  const values = [10, 20, 30, 40, 50];
  assert.equal(quantile(values, 0), 10);
  assert.equal(quantile(values, 1), 50);
  assert.equal(quantile(values, 0.25), 20);
  assert.equal(quantile(values, 0.99), 49.6);
});

void test('no samples give null, never 0 or NaN', () => {
  assert.equal(median([]), null);
  assert.equal(quantile([], 0.99), null);
  assert.equal(mean([]), null);
  assert.equal(medianOf([null, undefined]), null);
});

void test('non-finite samples are left out of the statistics', () => {
  assert.equal(median([1, NaN, 3, Infinity]), 2);
});

void test('medianOf ignores the figures that were not measured', () => {
  assert.equal(medianOf([3, null, 1, undefined, 2]), 2);
});

void test('a quantile outside [0, 1] is a programming error', () => {
  assert.throws(() => quantile([1], 1.5), RangeError);
});

void test('round keeps the given significant digits and passes null through', () => {
  assert.equal(round(123456.789, 3), 123457);
  assert.equal(round(0.0123456, 3), 0.0123);
  assert.equal(round(1.23456, 4), 1.235);
  assert.equal(round(null), null);
  assert.equal(round(NaN), null);
  assert.equal(round(0), 0);
});
