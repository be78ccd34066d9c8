/**
 * F14 — a clean broker restart (SIGTERM, controlled shutdown, wait for the exit, start again on the same ports and
 * data) while the stage is committing: once with a transaction held open between sendOffsets and commit, once
 * with records flowing (one partition held between its record sends and its offsets, the other committing). The stage rides it out, drains the input once the broker answers
 * again, stops cleanly with exit code 0 when asked to, and the auditor finds no violation. The fault is proven: the
 * broker's JVM exited on its own after SIGTERM (not killed) and the stage logged failed transactions.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  assertRodeOutOutage,
  runThroughBrokerOutage,
  summarize,
  usePrivateBroker,
  type OutageRun,
} from '../support/private-broker.js';
import { auditScenario, prepareScenario } from '../support/scenario.js';

const suite = usePrivateBroker();

const OUTAGE_SETTINGS = {
  COMMIT_INTERVAL_MS: '100',
  CIRCUIT_BREAKER_PROBE_MS: '1000',
  TRANSACTION_TIMEOUT_MS: '30000',
};

/** The JVM ran its shutdown hooks and exited (128 + SIGTERM), rather than being killed. */
function assertCleanBrokerExit(run: OutageRun): void {
  assert.equal(run.brokerExit.signal, null, `the broker exited by itself: ${JSON.stringify(run.brokerExit)}`);
  assert.equal(
    run.brokerExit.code,
    143,
    `the broker's exit after SIGTERM: ${JSON.stringify(run.brokerExit)}`,
  );
}

test('F14a: clean broker restart while a transaction is open', async (t) => {
  const { names } = await prepareScenario(suite, { seed: 114 });
  const run = await runThroughBrokerOutage(suite, names, {
    env: { ...OUTAGE_SETTINGS, EOS_ROLLUP_FAULT: 'before-commit@3:hold' },
    signal: 'SIGTERM',
    downForMs: 0,
  });
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(summarize(run, outcome.abortedRecords));
  assertCleanBrokerExit(run);
  assertRodeOutOutage(run, outcome);
});

test('F14b: clean broker restart while records flow', async (t) => {
  // 9,000 records in transactions of 50: partition 1 keeps committing while partition 0 is held mid-transaction.
  const { names } = await prepareScenario(suite, { seed: 214, perHost: 300 });
  const run = await runThroughBrokerOutage(suite, names, {
    env: { ...OUTAGE_SETTINGS, EOS_ROLLUP_FAULT: 'after-changelog-send@5/p0:hold' },
    signal: 'SIGTERM',
    downForMs: 0,
  });
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(summarize(run, outcome.abortedRecords));
  assertCleanBrokerExit(run);
  assertRodeOutOutage(run, outcome);
});
