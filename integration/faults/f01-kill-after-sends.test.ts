/**
 * F01 — SIGKILL after the records' send, before sendOffsets: at the second commit carrying rollups, the third
 * carrying changelog, and the second of all (the rollups, dead letters and changelog of a transaction go in one
 * send). Each killed transaction stays open until the successor's InitProducerId aborts it; the auditor then
 * finds every window exactly once and every input offset covered once.
 */

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { killThenRecover } from '../support/scenario.js';

const suite = useStageSuite();

test("F01: SIGKILL after a transaction's records were sent, before its offsets, loses nothing and duplicates nothing", async () => {
  const outcome = await killThenRecover(
    suite,
    ['after-output-send@2:kill', 'after-changelog-send@3:kill', 'after-send@2:kill'],
    { seed: 101 },
  );
  assert.ok(outcome.abortedRecords > 0, 'read_uncommitted sees the killed transactions’ records');
});
