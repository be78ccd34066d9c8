/**
 * F12 — two instances that both believe they own a partition: the first is stuck inside a transaction (its
 * task is held before commit, so its consumer cannot rejoin and the group moves on after the rebalance timeout);
 * the second takes the partition, fences the first and processes. The first then tries to commit: fenced, nothing
 * of it becomes visible.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { release, waitForHeldTransactionFailure, waitForLine, waitUntilHeld } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F12: the stale owner of a partition is fenced by the new one and its transaction never becomes visible', async () => {
  const { names } = await prepareScenario(suite, { seed: 112, partitions: 1 });
  const settings = { ...FAULT_SETTINGS, REBALANCE_TIMEOUT_MS: '3000' };
  const stale = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'stale',
    EOS_ROLLUP_FAULT: 'before-commit@4:hold',
  });
  const held = await waitUntilHeld(stale);
  const owner = suite.start(names, { ...settings, INSTANCE_ID: 'owner' });
  // The new owner's task is initialized: its InitProducerId has fenced the stale one. Only now may it commit.
  await waitForLine(owner, 'the new owner’s task initialized', (l) => l.msg === 'task initialized', 90_000);
  release(stale);
  const failure = await waitForHeldTransactionFailure(stale, held);
  assert.equal(failure.kind, 'fenced', `the stale owner’s commit was fenced: ${JSON.stringify(failure)}`);
  await waitForDrain(suite.kafka, names, 90_000, [owner]);
  await owner.stop('SIGTERM');
  await stale.stop('SIGTERM');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the stale owner’s transaction was aborted');
});
