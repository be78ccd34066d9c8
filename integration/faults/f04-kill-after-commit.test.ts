/**
 * F04 — SIGKILL right after commit returns, before the consumer learns of it: the successor must start from the
 * committed offset and the restored state, not reprocess the committed transaction.
 */

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { killThenRecover } from '../support/scenario.js';

const suite = useStageSuite();

test('F04: SIGKILL right after commit: the committed transaction is neither lost nor replayed', async () => {
  const outcome = await killThenRecover(suite, ['after-commit@2:kill', 'after-commit@5:kill'], { seed: 104 });
  assert.equal(
    outcome.report.counts.expectedWindows,
    outcome.report.counts.rollups,
    'every closed window emitted',
  );
});
