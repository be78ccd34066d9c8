import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CircuitBreaker } from '../../src/engine/circuit-breaker.js';
import { FatalError } from '../../src/errors/errors.js';

const options = { threshold: 3, probeIntervalMs: 5000 };

/** A breaker opened at `openedAtMs` by `threshold` consecutive failures. */
function openedAt(openedAtMs: number): CircuitBreaker {
  const breaker = new CircuitBreaker(options);
  breaker.recordFailure(openedAtMs - 2);
  breaker.recordFailure(openedAtMs - 1);
  breaker.recordFailure(openedAtMs);
  return breaker;
}

test('a new breaker is closed with no failures', () => {
  const breaker = new CircuitBreaker(options);
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.consecutiveFailures, 0);
});

test('failures below the threshold keep the breaker closed', () => {
  const breaker = new CircuitBreaker(options);
  assert.equal(breaker.recordFailure(1000), 'closed');
  assert.equal(breaker.recordFailure(1001), 'closed');
  assert.equal(breaker.consecutiveFailures, 2);
});

test('the failure that reaches the threshold opens the breaker', () => {
  const breaker = new CircuitBreaker(options);
  breaker.recordFailure(1000);
  breaker.recordFailure(1001);
  assert.equal(breaker.recordFailure(1002), 'open');
});

test('a threshold of 1 opens on the first failure', () => {
  const breaker = new CircuitBreaker({ threshold: 1, probeIntervalMs: 10 });
  assert.equal(breaker.recordFailure(0), 'open');
});

test('a success resets the count, so only consecutive failures open the breaker', () => {
  const breaker = new CircuitBreaker(options);
  breaker.recordFailure(1000);
  breaker.recordFailure(1001);
  assert.equal(breaker.recordSuccess(1002), 'closed');
  assert.equal(breaker.consecutiveFailures, 0);
  assert.equal(breaker.recordFailure(1003), 'closed');
});

test('no probe is due before probeIntervalMs has passed since the breaker opened', () => {
  const breaker = openedAt(10_000);
  assert.equal(breaker.isProbeDue(10_000), false);
  assert.equal(breaker.isProbeDue(14_999), false);
});

test('a probe is due once probeIntervalMs has passed since the breaker opened', () => {
  const breaker = openedAt(10_000);
  assert.equal(breaker.nextProbeAtMs, 15_000);
  assert.equal(breaker.isProbeDue(15_000), true);
});

test('starting a probe moves the breaker from open to half-open', () => {
  const breaker = openedAt(10_000);
  breaker.startProbe(15_000);
  assert.equal(breaker.state, 'half-open');
});

test('while a probe runs, no further probe is due', () => {
  const breaker = openedAt(10_000);
  breaker.startProbe(15_000);
  assert.equal(breaker.isProbeDue(99_000), false);
  assert.equal(breaker.nextProbeAtMs, undefined);
});

test('a successful probe closes the breaker and resets the failures', () => {
  const breaker = openedAt(10_000);
  breaker.startProbe(15_000);
  assert.equal(breaker.recordSuccess(15_200), 'closed');
  assert.equal(breaker.consecutiveFailures, 0);
  assert.equal(breaker.isProbeDue(99_000), false);
});

test('a failed probe re-opens the breaker with the next probe probeIntervalMs after the failure', () => {
  const breaker = openedAt(10_000);
  breaker.startProbe(15_000);
  assert.equal(breaker.recordFailure(15_300), 'open');
  assert.equal(breaker.isProbeDue(20_299), false);
  assert.equal(breaker.isProbeDue(20_300), true);
});

test('a failure recorded while open does not postpone the next probe', () => {
  const breaker = openedAt(10_000);
  assert.equal(breaker.recordFailure(14_000), 'open');
  assert.equal(breaker.isProbeDue(15_000), true);
});

test('a success while open closes the breaker', () => {
  const breaker = openedAt(10_000);
  assert.equal(breaker.recordSuccess(11_000), 'closed');
});

test('starting a probe on a closed breaker is a bug and throws a fatal error', () => {
  const breaker = new CircuitBreaker(options);
  assert.throws(() => {
    breaker.startProbe(0);
  }, FatalError);
});

test('starting a second probe while one runs is a bug and throws a fatal error', () => {
  const breaker = openedAt(10_000);
  breaker.startProbe(15_000);
  assert.throws(() => {
    breaker.startProbe(15_001);
  }, FatalError);
});

test('a threshold below 1 is rejected', () => {
  assert.throws(() => new CircuitBreaker({ threshold: 0, probeIntervalMs: 10 }), RangeError);
});
