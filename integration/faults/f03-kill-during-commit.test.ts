/**
 * F03 — SIGKILL while EndTxn is in flight: the outcome is unknown to the dead process; the successor settles it
 * (its InitProducerId completes or aborts the transaction) before reading the committed offset.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import {
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';

const suite = useStageSuite();

test('F03: SIGKILL during commit: the successor settles the outcome and nothing is lost or doubled', async () => {
  const { names } = await prepareScenario(suite, { seed: 103 });
  for (const fault of ['during-commit@3:kill', 'during-commit@6:kill']) {
    assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: fault }), fault);
  }
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
