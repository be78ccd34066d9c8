import assert from 'node:assert/strict';
import { test } from 'node:test';

import { backoffMs, decide } from '../../src/engine/retry-policy.js';

const policy = { initialBackoffMs: 100, maxBackoffMs: 10_000 };
const highest = (): number => 0.999_999;
const lowest = (): number => 0;
const middle = (): number => 0.5;

test('a retriable error is retried after a back-off', () => {
  assert.deepEqual(decide('retriable', 1, policy, highest), { action: 'retry', backoffMs: 100 });
});

test('a fenced task is retried like a retriable failure, after a back-off that grows with the retry count', () => {
  // Every retry starts from the assignment steps with a new producer: never the fenced one again.
  assert.deepEqual(decide('fenced', 1, policy, highest), { action: 'retry', backoffMs: 100 });
  assert.deepEqual(decide('fenced', 2, policy, highest), { action: 'retry', backoffMs: 200 });
});

test('fatal and config errors fail', () => {
  assert.deepEqual(decide('fatal', 1, policy, highest), { action: 'fail' });
  assert.deepEqual(decide('config', 1, policy, highest), { action: 'fail' });
});

test('retriable errors are retried however many attempts have failed: nothing is skipped', () => {
  assert.equal(decide('retriable', 1_000_000, policy, middle).action, 'retry');
});

test('the back-off doubles with each attempt, starting from the initial back-off', () => {
  const delays = [1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, policy, highest));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600]);
});

test('the back-off never exceeds the maximum', () => {
  assert.equal(backoffMs(20, policy, highest), 10_000);
});

test('equal jitter: the back-off is never less than half the capped delay', () => {
  assert.equal(backoffMs(3, policy, lowest), 200);
  assert.equal(backoffMs(20, policy, lowest), 5000);
});

test('the random half spreads the back-off between half and all of the capped delay', () => {
  assert.equal(backoffMs(3, policy, middle), 300);
});

test('the back-off is never 0, even with the smallest initial back-off and no jitter', () => {
  assert.equal(backoffMs(1, { initialBackoffMs: 1, maxBackoffMs: 1 }, lowest), 1);
});

test('a huge attempt count yields the cap, not NaN or Infinity', () => {
  assert.equal(backoffMs(5000, policy, highest), 10_000);
});

test('attempts below 1 are treated as the first attempt', () => {
  assert.equal(backoffMs(0, policy, highest), 100);
  assert.equal(backoffMs(-3, policy, highest), 100);
});

test('a random source outside [0, 1) cannot push the back-off past the cap or below half of it', () => {
  assert.equal(
    backoffMs(20, policy, () => 7),
    10_000,
  );
  assert.equal(
    backoffMs(20, policy, () => -7),
    5000,
  );
  assert.equal(
    backoffMs(20, policy, () => Number.NaN),
    5000,
  );
});

test('the back-off is a whole number of milliseconds', () => {
  assert.ok(Number.isInteger(backoffMs(2, { initialBackoffMs: 3, maxBackoffMs: 100 }, () => 0.123)));
});
