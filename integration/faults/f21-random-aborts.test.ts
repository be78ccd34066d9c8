/**
 * F21 — 10% random aborts at several steps with back-to-back tiny transactions: hundreds of transactions, dozens
 * aborted and retried, and the result is still exactly once. Beside the random aborts, five at fixed hits: the
 * floor the test asserts holds by construction, whatever the draws.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { useStageSuite } from '../support/stage-suite.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = useStageSuite();

/** Fixed hits, after records were sent: each aborts a transaction that wrote something. */
const DETERMINISTIC = [
  'after-changelog-send@3:throw',
  'after-send-offsets@5:throw',
  'after-changelog-send@9:throw',
  'after-send-offsets@12:throw',
  'after-send-offsets@17:throw',
];

test('F21: 10% random aborts over tiny transactions leave no violation', async () => {
  const { names } = await prepareScenario(suite, { seed: 121, hosts: 20, perHost: 60 });
  const result = await runOnce(
    suite,
    names,
    {
      COMMIT_MAX_RECORDS: '10',
      CIRCUIT_BREAKER_THRESHOLD: '50',
      // The fixed ones first: a hit on which a random one is due too still fires the fixed one.
      EOS_ROLLUP_FAULT: [
        ...DETERMINISTIC,
        'before-send@%4:throw',
        'after-changelog-send@%3:throw',
        'after-send-offsets@%3:throw',
      ].join(','),
    },
    180_000,
  );
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  const injected = (result.stage.output().match(/"msg":"injecting fault"/g) ?? []).length;
  assert.ok(injected >= DETERMINISTIC.length, `faults were injected (${injected})`);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'aborted transactions reached the log');
});
