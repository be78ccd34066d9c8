/**
 * F02 — SIGKILL after sendOffsets, before commit (and a kill right after the offset fetch of a new owner, before
 * its producer is used): the offsets sent inside the dead transaction never become visible.
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

test('F02: SIGKILL after sendOffsets or before commit leaves the committed offsets where they were', async () => {
  const { names } = await prepareScenario(suite, { seed: 102 });
  for (const fault of ['after-send-offsets@3:kill', 'before-commit@2:kill', 'after-offset-fetch@1:kill']) {
    assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: fault }), fault);
  }
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'read_uncommitted sees the killed transactions’ records');
});
