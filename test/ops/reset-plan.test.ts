/** reset's refusal rule and its report, without Kafka. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatResetPlan, refusalForMembers, type ResetPlan } from '../../src/ops/reset-plan.js';

test('an empty group is no refusal; members are named', () => {
  assert.equal(refusalForMembers('app', []), undefined);
  assert.equal(
    refusalForMembers('app', [{ memberId: 'm-1', clientId: 'app-a', clientHost: '/10.0.0.1' }]),
    'group app (APP_ID) has 1 active member(s): app-a@/10.0.0.1 (m-1); stop every instance of the stage first ' +
      '(offsets of a group can only be reset while it is empty)',
  );
});

const PLAN: ResetPlan = {
  group: 'app',
  inputTopic: 'in',
  target: { kind: 'earliest' },
  partitions: [
    { partition: 0, committed: '42', target: '0' },
    { partition: 1, committed: null, target: '3' },
  ],
  deleteTopics: ['app-rollup-state-changelog'],
};

test('the plan says "would" in a dry run and what was done otherwise, and never touches output or DLQ', () => {
  assert.deepEqual(formatResetPlan(PLAN, false), [
    'reset app: would set the committed offsets on in to the earliest offsets:',
    '  partition 0: 42 -> 0',
    '  partition 1: none -> 3',
    'reset app: would delete topic app-rollup-state-changelog (the stage recreates it at its next start)',
    'reset app: output and DLQ topics are not touched',
  ]);
  const done = formatResetPlan(
    { ...PLAN, target: { kind: 'time', atMs: Date.UTC(2026, 10, 25) }, deleteTopics: [] },
    true,
  );
  assert.match(
    done[0] ?? '',
    /^reset app: set the committed offsets on in to the offsets of 2026-11-25T00:00:00\.000Z/,
  );
  assert.ok(done.includes('reset app: no changelog or processing-attempts topic to delete'));
});
