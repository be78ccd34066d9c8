/**
 * F12 — two instances that both believe they own a partition: the first is stuck inside a transaction (its
 * task stalls before commit, so its consumer cannot rejoin and the group moves on after the rebalance timeout);
 * the second takes the partition, fences the first and processes. The first then tries to commit: fenced, nothing
 * of it becomes visible.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { waitForDrain, waitForLog } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F12: the stale owner of a partition is fenced by the new one and its transaction never becomes visible', async () => {
  const { names } = await prepareScenario(suite, { seed: 112, partitions: 1 });
  const settings = { ...FAULT_SETTINGS, REBALANCE_TIMEOUT_MS: '3000' };
  const stale = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'stale',
    EOS_ROLLUP_FAULT: 'before-commit@4:stall10000',
  });
  await waitForLog(stale, /"point":"before-commit"/, 30_000);
  const owner = suite.start(names, { ...settings, INSTANCE_ID: 'owner' });
  await waitForDrain(suite.kafka, names, 90_000, [owner]);
  await waitForLog(stale, /transaction failed while committing/, 20_000);
  assert.match(stale.output(), /transaction failed while committing/, 'the stale owner’s commit failed');
  await owner.stop('SIGTERM');
  await stale.stop('SIGTERM');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the stale owner’s transaction was aborted');
});
