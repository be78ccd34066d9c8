/**
 * F12 — two instances that both believe they own a partition: the first is stuck inside a transaction (its
 * task stalls before commit, so its consumer cannot rejoin and the group moves on after the rebalance timeout);
 * the second takes the partition, fences the first and processes. The first then tries to commit: fenced, nothing
 * of it becomes visible.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
    EOS_ROLLUP_FAULT: 'before-commit@4:stall10000',
  });
  const deadline = Date.now() + 30_000;
  while (!stale.output().includes('"point":"before-commit"') && Date.now() < deadline) await sleep(100);
  const owner = suite.start(names, { ...settings, INSTANCE_ID: 'owner' });
  await waitForDrain(suite.kafka, names, 90_000, [owner]);
  const until = Date.now() + 20_000;
  while (!stale.output().includes('transaction failed while committing') && Date.now() < until)
    await sleep(200);
  assert.match(stale.output(), /transaction failed while committing/, 'the stale owner’s commit failed');
  await owner.stop('SIGTERM');
  await stale.stop('SIGTERM');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the stale owner’s transaction was aborted');
});
