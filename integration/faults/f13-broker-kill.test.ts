/**
 * F13 — the broker is SIGKILLed while a transaction is open (a task is held between sendOffsets and commit until
 * the broker is down), then started again on the same ports and data: once back before the transaction timeout
 * ran out, once after it. The
 * stage rides the outage out (retriable failures, back-off, the circuit breaker if it opens), drains the input
 * once the broker answers again, stops cleanly with exit code 0 when asked to, and the auditor finds no violation.
 * The fault is proven: the broker's JVM died by SIGKILL and the stage logged failed transactions.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  assertRodeOutOutage,
  runThroughBrokerOutage,
  summarize,
  usePrivateBroker,
} from '../support/private-broker.js';
import { auditScenario, prepareScenario } from '../support/scenario.js';

const suite = usePrivateBroker();

/** Short probes, so a paused partition resumes soon after the broker is back. */
const OUTAGE_SETTINGS = { COMMIT_INTERVAL_MS: '100', CIRCUIT_BREAKER_PROBE_MS: '1000' };

test('F13a: broker SIGKILLed mid-transaction, back within the transaction timeout', async (t) => {
  // Far longer than a restart can take, even of a JVM on a busy machine: "within" holds by construction.
  const timeoutMs = 300_000;
  const { names } = await prepareScenario(suite, { seed: 113 });
  const run = await runThroughBrokerOutage(suite, names, {
    env: {
      ...OUTAGE_SETTINGS,
      TRANSACTION_TIMEOUT_MS: String(timeoutMs),
      EOS_ROLLUP_FAULT: 'before-commit@3:hold',
    },
    signal: 'SIGKILL',
    downForMs: 0,
  });
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(summarize(run, outcome.abortedRecords));
  assert.deepEqual(run.brokerExit, { code: null, signal: 'SIGKILL' }, 'the broker died by SIGKILL');
  assert.ok(
    run.sinceTriggerMs < timeoutMs,
    `the broker was back ${run.sinceTriggerMs} ms after the transaction opened, within ${timeoutMs} ms`,
  );
  assertRodeOutOutage(run, outcome);
});

test('F13b: broker SIGKILLed mid-transaction, down longer than the transaction timeout', async (t) => {
  const timeoutMs = 3000;
  const { names } = await prepareScenario(suite, { seed: 213 });
  const run = await runThroughBrokerOutage(suite, names, {
    env: {
      ...OUTAGE_SETTINGS,
      TRANSACTION_TIMEOUT_MS: String(timeoutMs),
      EOS_ROLLUP_FAULT: 'before-commit@3:hold',
    },
    signal: 'SIGKILL',
    downForMs: 2 * timeoutMs,
  });
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(summarize(run, outcome.abortedRecords));
  assert.deepEqual(run.brokerExit, { code: null, signal: 'SIGKILL' }, 'the broker died by SIGKILL');
  assert.ok(
    run.sinceTriggerMs > timeoutMs,
    `the broker was back ${run.sinceTriggerMs} ms after the transaction opened, past ${timeoutMs} ms`,
  );
  assertRodeOutOutage(run, outcome);
  assert.ok(outcome.abortedRecords > 0, 'the open transaction’s records were aborted by the coordinator');
});
