/**
 * Negative controls: the same harness against deliberately broken variants of the stage (EOS_ROLLUP_BROKEN,
 * test only). A verifier that never fails is not evidence: the auditor must report violations for each.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { formatReport } from '../../src/audit/auditor.js';
import { release, waitForLine, waitUntilHeld } from '../support/fault-hold.js';
import { useStageSuite } from '../support/stage-suite.js';
import { waitForDrain } from '../support/pipeline.js';
import { FAULT_SETTINGS, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = useStageSuite();

async function assertCaught(names: Parameters<typeof auditScenario>[2], variant: string): Promise<void> {
  const outcome = await auditScenario(suite.env, suite.kafka, names, false);
  assert.ok(
    outcome.report.violations.length > 0,
    `the auditor must catch ${variant}\n${formatReport(outcome.report)}`,
  );
  console.log(`# ${variant}: caught ${JSON.stringify(outcome.report.byKind)}`);
}

test('offsets committed outside the transaction: a crash after the offset commit loses records, and the auditor says so', async () => {
  const { names } = await prepareScenario(suite, { seed: 201 });
  const broken = { EOS_ROLLUP_BROKEN: 'offsets-outside-transaction' };
  await runOnce(suite, names, { ...broken, EOS_ROLLUP_FAULT: 'after-output-send@3:kill' });
  await runOnce(suite, names, broken);
  await assertCaught(names, 'offsets-outside-transaction');
});

test('no state rollback on abort: aborted changes are counted again, and the auditor says so', async () => {
  const { names } = await prepareScenario(suite, { seed: 202 });
  await runOnce(suite, names, {
    EOS_ROLLUP_BROKEN: 'no-state-rollback',
    EOS_ROLLUP_FAULT: 'after-send@3:throw,after-send-offsets@6:throw',
  });
  await assertCaught(names, 'no-state-rollback');
});

test('changelog restored with read_uncommitted: aborted state comes back after a crash, and the auditor says so', async () => {
  const { names } = await prepareScenario(suite, { seed: 203 });
  await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'after-changelog-send@4:kill' });
  await runOnce(suite, names, { EOS_ROLLUP_BROKEN: 'restore-read-uncommitted' });
  await assertCaught(names, 'restore-read-uncommitted');
});

test('offsets resolved before commit: a failed transaction’s records are skipped, and the auditor says so', async () => {
  const { names } = await prepareScenario(suite, { seed: 204 });
  await runOnce(suite, names, {
    EOS_ROLLUP_BROKEN: 'resolve-before-commit',
    EOS_ROLLUP_FAULT: 'after-send@3:throw',
  });
  await assertCaught(names, 'resolve-before-commit');
});

test('a transactional id the next owner does not share: a stale owner commits after the takeover, and the auditor says so', async () => {
  const { names } = await prepareScenario(suite, { seed: 205, partitions: 1 });
  const broken = { EOS_ROLLUP_BROKEN: 'instance-transactional-id', REBALANCE_TIMEOUT_MS: '3000' };
  const stale = suite.start(names, {
    ...FAULT_SETTINGS,
    ...broken,
    INSTANCE_ID: 'stale',
    // One line per committed transaction is at debug: it proves the stale owner's late commit went through.
    LOG_LEVEL: 'debug',
    // Held before its first send, its transaction has written nothing yet: the new owner restores and processes
    // the same records without waiting for it.
    EOS_ROLLUP_FAULT: 'before-send@4:hold',
  });
  const held = await waitUntilHeld(stale);
  const owner = suite.start(names, { ...FAULT_SETTINGS, ...broken, INSTANCE_ID: 'owner' });
  await waitForDrain(suite.kafka, names, 90_000, [owner]);
  // Only now does the stale owner send and commit what the new owner already committed. With a transactional id
  // the new owner does not share, nothing fences it.
  release(stale);
  await waitForLine(
    stale,
    'the stale owner committing its held transaction after the takeover',
    (l) => l.msg === 'transaction committed' && l.partition === held.partition,
    60_000,
    held.mark,
  );
  await owner.stop('SIGTERM');
  await stale.stop('SIGTERM');
  await assertCaught(names, 'instance-transactional-id');
});
