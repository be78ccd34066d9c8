import assert from 'node:assert/strict';
import { test } from 'node:test';

import { evaluateReadiness, type ReadinessFacts } from '../../src/observability/readiness.js';

const running: ReadinessFacts = {
  stage: 'running',
  inventoryCaughtUp: true,
  hasAssignment: true,
  partitions: [
    { partition: 0, phase: 'running' },
    { partition: 1, phase: 'running' },
  ],
};

test('a running stage with the inventory caught up and every task running is ready, with no reasons', () => {
  assert.deepEqual(evaluateReadiness(running), {
    ready: true,
    reasons: [],
    partitions: [
      { partition: 0, phase: 'running' },
      { partition: 1, phase: 'running' },
    ],
  });
});

test('a starting stage whose inventory is still loading is not ready, and says both', () => {
  const result = evaluateReadiness({
    ...running,
    stage: 'starting',
    inventoryCaughtUp: false,
    hasAssignment: false,
    partitions: [],
  });
  assert.equal(result.ready, false);
  assert.deepEqual(result.reasons, ['stage is starting', 'inventory not caught up yet']);
});

test('a running stage without its first assignment is not ready', () => {
  const result = evaluateReadiness({ ...running, hasAssignment: false, partitions: [] });
  assert.deepEqual(result.reasons, ['waiting for a partition assignment']);
});

test('an empty assignment (more instances than partitions) is ready', () => {
  assert.equal(evaluateReadiness({ ...running, partitions: [] }).ready, true);
});

test('a restoring partition makes the stage not ready, and the reason carries the restore progress', () => {
  const result = evaluateReadiness({
    ...running,
    partitions: [
      { partition: 0, phase: 'running' },
      { partition: 1, phase: 'restoring', restore: { records: 1200, position: 1300n, endOffset: 5000n } },
    ],
  });
  assert.equal(result.ready, false);
  assert.deepEqual(result.reasons, [
    'partition 1 restoring state (changelog offset 1300 of 5000, 1200 records read)',
  ]);
});

test('a partition quarantined by its circuit breaker makes the stage not ready', () => {
  const result = evaluateReadiness({
    ...running,
    partitions: [{ partition: 3, phase: 'quarantined' }],
  });
  assert.equal(result.ready, false);
  assert.match(result.reasons[0] ?? '', /^partition 3 quarantined by the circuit breaker/);
});

test('a partition still initializing makes the stage not ready', () => {
  const result = evaluateReadiness({ ...running, partitions: [{ partition: 2, phase: 'initializing' }] });
  assert.match(result.reasons[0] ?? '', /^partition 2 initializing/);
});

test('extra reasons (watchdog findings) make an otherwise ready stage not ready', () => {
  const result = evaluateReadiness(running, ['partition 0 stalled']);
  assert.equal(result.ready, false);
  assert.deepEqual(result.reasons, ['partition 0 stalled']);
});

test('a stopping stage is not ready', () => {
  assert.deepEqual(evaluateReadiness({ ...running, stage: 'stopping' }).reasons, ['stage is stopping']);
});
