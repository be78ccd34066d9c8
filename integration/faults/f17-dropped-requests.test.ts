/**
 * F17 — dropped transaction and produce requests. Every connection to a private broker goes through a
 * protocol-aware proxy that loses chosen requests of the stage and then cuts the connection, as a broken link
 * does: (a) an EndTxn, a TxnOffsetCommit and a Produce never reach the broker; (b) an EndTxn and a Produce do
 * reach it, but their responses are lost. A lost TxnOffsetCommit or Produce is sent again on a new connection
 * within its transaction (kafkajs's own retries; the TxnOffsetCommit's made reachable by the transaction-coordinator
 * patch), so it fails nothing; a lost EndTxn leaves the stage with a commit of unknown outcome: it must
 * settle it by re-reading the committed offset (design §2), which says "aborted" in (a) and "committed" in (b),
 * and go on from there without reprocessing a committed range or skipping an aborted one. A Produce whose
 * response was lost is sent again by kafkajs with the same sequence numbers, and the broker must deduplicate it.
 * The fault is proven by the proxy's counters, the stage's log (failed transactions, the settled outcome) and,
 * for (a), aborted records seen by read_uncommitted; the input drains, the stage stops cleanly, and the auditor
 * finds no violation.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { API_KEYS, type ProxyRule } from '../support/kafka-proxy.js';
import { logLines, usePrivateBroker } from '../support/private-broker.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = usePrivateBroker({ proxy: true });

function settledOutcomes(log: string): string[] {
  return logLines(log, /^commit outcome settled/).map(
    (line) => (JSON.parse(line) as { outcome: string }).outcome,
  );
}

function dropOnce(appId: string, apiKey: number, skip: number, target: 'request' | 'response'): ProxyRule {
  // A Produce: one of a transaction's, not a processing-attempts journal write (the same client, no transaction).
  const transactionalProduce = apiKey === API_KEYS.Produce;
  return {
    apiKey,
    action: 'drop',
    cut: true,
    target,
    clientIdPrefix: appId,
    skip,
    times: 1,
    transactionalProduce,
  };
}

test('F17a: a lost EndTxn aborts its transaction and is settled as aborted; a lost TxnOffsetCommit and a lost Produce are sent again within theirs', async (t) => {
  const { names } = await prepareScenario(suite, { seed: 117, hosts: 20, perHost: 60 });
  suite.proxy.setRules([
    dropOnce(names.appId, API_KEYS.EndTxn, 4, 'request'),
    dropOnce(names.appId, API_KEYS.TxnOffsetCommit, 12, 'request'),
    dropOnce(names.appId, API_KEYS.Produce, 20, 'request'),
  ]);
  const result = await runOnce(suite, names, {});
  suite.proxy.clearRules();
  const log = result.stage.output();
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(`${suite.proxy.summary()}; aborted records ${outcome.abortedRecords}`);
  t.diagnostic(`settled commits: ${settledOutcomes(log).join(', ')}`);

  for (const apiKey of [API_KEYS.EndTxn, API_KEYS.TxnOffsetCommit, API_KEYS.Produce])
    assert.equal(suite.proxy.count(apiKey).dropped, 1, `api key ${apiKey} was lost once`);
  const failures = logLines(log, /^transaction failed while committing/);
  assert.ok(failures.length >= 1, `the lost EndTxn failed its transaction:\n${log.slice(-3000)}`);
  assert.deepEqual(
    failures.filter((line) => /sending (offsets|records)/.test(line)),
    [],
    'the lost TxnOffsetCommit and Produce were sent again and failed no transaction',
  );
  assert.deepEqual(settledOutcomes(log), ['aborted'], 'the lost commit never reached the coordinator');
  assert.ok(outcome.abortedRecords > 0, 'the failed transactions were aborted');
  assert.equal(result.exit.code, 0, 'drained, then stopped cleanly');
  assertNoViolations(outcome, log.slice(-3000));
});

test('F17b: a commit whose response is lost is settled as committed and not processed again; a Produce retried after a lost response is deduplicated', async (t) => {
  const { names } = await prepareScenario(suite, { seed: 217, hosts: 20, perHost: 60 });
  suite.proxy.setRules([
    dropOnce(names.appId, API_KEYS.EndTxn, 4, 'response'),
    dropOnce(names.appId, API_KEYS.Produce, 20, 'response'),
  ]);
  const result = await runOnce(suite, names, {});
  suite.proxy.clearRules();
  const log = result.stage.output();
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(`${suite.proxy.summary()}; aborted records ${outcome.abortedRecords}`);
  t.diagnostic(`settled commits: ${settledOutcomes(log).join(', ')}`);

  assert.equal(suite.proxy.count(API_KEYS.EndTxn).responsesDropped, 1, 'one EndTxn response was lost');
  assert.equal(suite.proxy.count(API_KEYS.Produce).responsesDropped, 1, 'one Produce response was lost');
  assert.deepEqual(settledOutcomes(log), ['committed'], 'the coordinator had committed it');
  assert.equal(result.exit.code, 0, 'drained, then stopped cleanly');
  assertNoViolations(outcome, log.slice(-3000));
});
