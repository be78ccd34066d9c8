/**
 * F15 — a transaction outlives TRANSACTION_TIMEOUT_MS (a task is held before commit): the broker aborts it, and
 * only once read_committed shows it aborted is the task released; the late commit fails, the task re-initializes,
 * and the run still ends exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { release, waitForHeldTransactionFailure, waitUntilHeld } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F15: a transaction past its timeout is aborted by the broker; the task recovers without loss or duplicates', async () => {
  const { names } = await prepareScenario(suite, { seed: 115, partitions: 1 });
  const stage = suite.start(names, {
    ...FAULT_SETTINGS,
    TRANSACTION_TIMEOUT_MS: '2000',
    EOS_ROLLUP_FAULT: 'before-commit@3:hold',
  });
  const held = await waitUntilHeld(stage);
  assert.ok(await changelogOpen(suite.kafka, names.changelog), 'the held transaction is open');
  // The coordinator aborts it on its own schedule: wait until it has, rather than for a time that should do.
  const deadline = Date.now() + 60_000;
  while ((await changelogOpen(suite.kafka, names.changelog)) && Date.now() < deadline) await sleep(200);
  assert.ok(
    !(await changelogOpen(suite.kafka, names.changelog)),
    'the broker aborted the timed-out transaction',
  );
  release(stage);
  const failure = await waitForHeldTransactionFailure(stage, held);
  assert.equal(failure.kind, 'fenced', `the late commit failed: ${JSON.stringify(failure)}`);
  await waitForDrain(suite.kafka, names, 90_000, [stage]);
  assert.equal((await stage.stop('SIGTERM')).code, 0, stage.output().slice(-2000));
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the timed-out transaction’s records were aborted');
});

/** An open transaction on the changelog's only partition: its last stable offset is below its high watermark. */
async function changelogOpen(kafka: Kafka, changelog: string): Promise<boolean> {
  const [stable, high] = await Promise.all([
    partitionRanges(kafka, changelog, 'read_committed'),
    partitionRanges(kafka, changelog, 'read_uncommitted'),
  ]);
  return (stable.get(0)?.end ?? 0n) < (high.get(0)?.end ?? 0n);
}
