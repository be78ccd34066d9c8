/**
 * F02 — SIGKILL after sendOffsets, before commit (and a kill right after the offset fetch of a new owner, before
 * its producer is used): the offsets sent inside the dead transaction never become visible.
 */

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { killThenRecover } from '../support/scenario.js';

const suite = useStageSuite();

test('F02: SIGKILL after sendOffsets or before commit leaves the committed offsets where they were', async () => {
  const outcome = await killThenRecover(
    suite,
    ['after-send-offsets@3:kill', 'before-commit@2:kill', 'after-offset-fetch@1:kill'],
    { seed: 102 },
  );
  assert.ok(outcome.abortedRecords > 0, 'read_uncommitted sees the killed transactions’ records');
});
