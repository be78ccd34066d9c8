/**
 * F06 — a crash during state restore, three times in a row: a half-restored store is never used, and the fourth
 * instance restores everything and finishes exactly once.
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

test('F06: SIGKILL during restore three times in a row, then a clean restore: invariants hold', async () => {
  const { names } = await prepareScenario(suite, { seed: 106 });
  assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'after-commit@12:kill' }), 'state built');
  for (let i = 1; i <= 3; i++) {
    const result = await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'during-restore@1:kill' });
    assertKilled(result, `restore crash ${i}`);
    assert.match(result.stage.output(), /"point":"during-restore"/);
  }
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
