/**
 * F09 — the kafkajs ordering race (kafkajs has no KIP-447 fencing by generation): the old owner is held after
 * sendOffsets and pushed out of the group, the new owner is held right after its offset fetch, then the old one
 * resumes, then the new one. The new owner's InitProducerId ran before its offset fetch, so the old owner's transaction was already
 * settled: the old owner's late commit is fenced, the new owner's fetched offset is the settled one, and the run
 * ends exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { release, waitForHeldTransactionFailure, waitUntilHeld } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F09: old owner stalled after sendOffsets, new owner stalled after its offset fetch: the old commit is fenced, nothing doubles', async () => {
  const { names } = await prepareScenario(suite, { seed: 109, partitions: 1 });
  const settings = { ...FAULT_SETTINGS, REBALANCE_TIMEOUT_MS: '3000' };
  // Each owner is held at its point until the other has done what the race is about: no stall to outlast.
  const old = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'old',
    EOS_ROLLUP_FAULT: 'after-send-offsets@3:hold',
  });
  const oldHeld = await waitUntilHeld(old);
  const successor = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'new',
    EOS_ROLLUP_FAULT: 'after-offset-fetch@1:hold',
  });
  // Held after its offset fetch: its InitProducerId has already fenced the old owner.
  await waitUntilHeld(successor);
  release(old);
  const failure = await waitForHeldTransactionFailure(old, oldHeld);
  assert.equal(failure.kind, 'fenced', `the old owner's late commit was fenced: ${JSON.stringify(failure)}`);
  release(successor);
  await waitForDrain(suite.kafka, names, 90_000, [successor]);
  await successor.stop('SIGTERM');
  await old.stop('SIGTERM');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the old owner’s transaction was aborted');
});
