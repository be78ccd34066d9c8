/**
 * F03 — SIGKILL while EndTxn is in flight: the outcome is unknown to the dead process; the successor settles it
 * (its InitProducerId completes or aborts the transaction) before reading the committed offset.
 */

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { killThenRecover } from '../support/scenario.js';

const suite = useStageSuite();

test('F03: SIGKILL during commit: the successor settles the outcome and nothing is lost or doubled', async () => {
  const outcome = await killThenRecover(suite, ['during-commit@3:kill', 'during-commit@6:kill'], {
    seed: 103,
  });
  assert.equal(
    outcome.report.counts.expectedWindows,
    outcome.report.counts.rollups,
    'every closed window emitted',
  );
});
