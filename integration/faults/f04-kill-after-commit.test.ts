/**
 * F04 — SIGKILL right after commit returns, before the consumer learns of it: the successor must start from the
 * committed offset and the restored state, not reprocess the committed transaction.
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

test('F04: SIGKILL right after commit: the committed transaction is neither lost nor replayed', async () => {
  const { names } = await prepareScenario(suite, { seed: 104 });
  for (const fault of ['after-commit@2:kill', 'after-commit@5:kill']) {
    assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: fault }), fault);
  }
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
