/**
 * F09 — the kafkajs ordering race (kafkajs has no KIP-447 fencing by generation): the old owner stalls after
 * sendOffsets and is pushed out of the group, the new owner stalls right after its offset fetch, then both
 * resume. The new owner's InitProducerId ran before its offset fetch, so the old owner's transaction was already
 * settled: the old owner's late commit is fenced, the new owner's fetched offset is the settled one, and the run
 * ends exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { waitForDrain, waitForLog } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F09: old owner stalled after sendOffsets, new owner stalled after its offset fetch: the old commit is fenced, nothing doubles', async () => {
  const { names } = await prepareScenario(suite, { seed: 109, partitions: 1 });
  const settings = { ...FAULT_SETTINGS, REBALANCE_TIMEOUT_MS: '3000' };
  const old = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'old',
    EOS_ROLLUP_FAULT: 'after-send-offsets@3:stall9000',
  });
  await waitForLog(old, /"point":"after-send-offsets"/, 30_000);
  assert.match(old.output(), /"point":"after-send-offsets"/);
  const successor = suite.start(names, {
    ...settings,
    INSTANCE_ID: 'new',
    EOS_ROLLUP_FAULT: 'after-offset-fetch@1:stall3000',
  });
  await waitForLog(successor, /"point":"after-offset-fetch"/, 30_000);
  assert.match(successor.output(), /"point":"after-offset-fetch"/);
  await waitForDrain(suite.kafka, names, 90_000, [successor]);
  await waitForLog(old, /transaction failed while committing|"kind":"fenced"/, 20_000);
  assert.match(old.output(), /transaction failed while committing|"kind":"fenced"/);
  await successor.stop('SIGTERM');
  await old.stop('SIGTERM');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the old owner’s transaction was aborted');
});
