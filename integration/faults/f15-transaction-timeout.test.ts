/**
 * F15 — a transaction outlives TRANSACTION_TIMEOUT_MS (a task stalls before commit): the broker aborts it, the
 * late commit fails, the task re-initializes, and the run still ends exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = useStageSuite();

test('F15: a transaction past its timeout is aborted by the broker; the task recovers without loss or duplicates', async () => {
  const { names } = await prepareScenario(suite, { seed: 115, partitions: 1 });
  const result = await runOnce(suite, names, {
    TRANSACTION_TIMEOUT_MS: '2000',
    EOS_ROLLUP_FAULT: 'before-commit@3:stall5000',
  });
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  assert.match(result.stage.output(), /transaction failed while committing/, 'the late commit failed');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the timed-out transaction’s records were aborted');
});
