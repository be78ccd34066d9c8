/**
 * F11 — scale out and then in while transactions are open: slow transactions keep one open on most partitions
 * at any moment; a second instance joins (partitions move away from open transactions) and later leaves with
 * SIGTERM (its open transactions finish or abort and its partitions move back). Exactly once throughout.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { waitForLine } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F11: an instance joining and leaving while transactions are open changes nothing in the result', async () => {
  const { names } = await prepareScenario(suite, { seed: 111, partitions: 4, hosts: 60, perHost: 120 });
  const slow = { ...FAULT_SETTINGS, EOS_ROLLUP_FAULT: 'before-commit@%100:stall60' };
  // Each step waits for what the previous one must have done, never for a time that a busy machine overruns.
  const inTransaction = (l: { msg: string; fault?: { point: string } }) =>
    l.msg === 'injecting fault' && l.fault?.point === 'before-commit';
  const first = suite.start(names, { ...slow, INSTANCE_ID: 'first' });
  await waitForLine(first, 'the first instance inside a transaction', inTransaction, 90_000);
  const second = suite.start(names, { ...slow, INSTANCE_ID: 'second' });
  await waitForLine(second, 'the second instance inside a transaction', inTransaction, 90_000);
  assert.equal(
    (await second.stop('SIGTERM')).code,
    0,
    'the leaving instance stops cleanly with transactions open',
  );
  await waitForDrain(suite.kafka, names, 120_000, [first]);
  assert.equal((await first.stop('SIGTERM')).code, 0);
  assert.match(
    second.output(),
    /"msg":"partitions assigned"/,
    'the second instance owned partitions before it left',
  );
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
