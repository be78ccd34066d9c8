/**
 * F16 — delayed transaction and produce requests. Every connection to a private broker goes through a
 * protocol-aware proxy (the broker advertises the proxy's port) that holds chosen requests of the stage back:
 * (a) an EndTxn, a TxnOffsetCommit and a Produce, each held past the transaction timeout, so the coordinator has
 * aborted the transaction (and bumped the epoch) before the request reaches the broker, which must answer each
 * with an epoch error; (b) an EndTxn held past kafkajs's 30 s request timeout, so the stage's commit fails with an
 * unknown outcome while the request is still on its way. Either way the stage must not trust its own view: it
 * replaces the producer, settles an unknown commit by re-reading the committed offset, restores its state and
 * goes on. The fault is proven by the proxy's counters, the stage's log (each late request's failure, the
 * settled outcome) and aborted records seen by read_uncommitted; the input drains, the stage stops cleanly, and
 * the auditor finds no violation.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { API_KEYS, type ProxyRule } from '../support/kafka-proxy.js';
import { logLines, usePrivateBroker } from '../support/private-broker.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = usePrivateBroker({ proxy: true });

/** The outcome of each commit the stage could not see the end of, as it logged it after re-reading. */
function settledOutcomes(log: string): string[] {
  return logLines(log, /^commit outcome settled/).map(
    (line) => (JSON.parse(line) as { outcome: string }).outcome,
  );
}

test('F16a: EndTxn, TxnOffsetCommit and Produce held past the transaction timeout are fenced, and nothing is lost or doubled', async (t) => {
  const transactionTimeoutMs = 2000;
  const delayMs = 3 * transactionTimeoutMs;
  const { names } = await prepareScenario(suite, { seed: 116, hosts: 20, perHost: 60 });
  const stageRequests = (apiKey: number, skip: number): ProxyRule => ({
    apiKey,
    action: 'delay',
    delayMs,
    clientIdPrefix: names.appId,
    skip,
    times: 1,
  });
  suite.proxy.setRules([
    stageRequests(API_KEYS.EndTxn, 4),
    stageRequests(API_KEYS.TxnOffsetCommit, 12),
    // The transaction's records, not the processing-attempts journal's writes (the same client, no transaction):
    // a late journal write is fenced by nothing. One transactional Produce per transaction (its rollups, dead
    // letters and changelog go together), and the run commits about 27 transactions.
    { ...stageRequests(API_KEYS.Produce, 20), transactionalProduce: true },
  ]);
  const result = await runOnce(suite, names, {
    TRANSACTION_TIMEOUT_MS: String(transactionTimeoutMs),
    // The batch handler waits for a held commit, and kafkajs heartbeats only between batches: with the suite's 6 s
    // session, as long as the hold, the member was expelled in one CI run, and its own next task fenced a send
    // that no held request had delayed. Here only the held requests may fence anything.
    SESSION_TIMEOUT_MS: String(3 * delayMs),
  });
  suite.proxy.clearRules();
  const log = result.stage.output();
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(`${suite.proxy.summary()}; aborted records ${outcome.abortedRecords}`);
  t.diagnostic(`settled commits: ${settledOutcomes(log).join(', ')}`);
  assert.doesNotMatch(log, /re-joining the group/, 'no rebalance: the member kept its session throughout');

  for (const apiKey of [API_KEYS.EndTxn, API_KEYS.TxnOffsetCommit, API_KEYS.Produce])
    assert.equal(suite.proxy.count(apiKey).delayed, 1, `api key ${apiKey} was held back once`);
  // Each late request reached a coordinator that had aborted the transaction and bumped the epoch: fenced.
  const failures = logLines(log, /^transaction failed while committing/).map(
    (line) => JSON.parse(line) as { code: string; err: string },
  );
  t.diagnostic(`failed commits:\n${failures.map((f) => `${f.code} ${f.err}`).join('\n')}`);
  const fenced = failures
    .filter((failure) => failure.code === 'PRODUCER_FENCED')
    .map((failure) => /: (committing|sending offsets|sending records): /.exec(failure.err)?.[1]);
  assert.deepEqual(
    [...fenced].sort(),
    ['committing', 'sending offsets', 'sending records'],
    `the late EndTxn, TxnOffsetCommit and Produce were each fenced:\n${log.slice(-3000)}`,
  );
  assert.deepEqual(
    settledOutcomes(log),
    [],
    'a fenced commit is known not to have landed: nothing to settle',
  );
  assert.ok(outcome.abortedRecords > 0, 'the coordinator aborted the timed-out transactions');
  assert.equal(result.exit.code, 0, 'drained, then stopped cleanly');
  assertNoViolations(outcome, log.slice(-3000));
});

test('F16b: an EndTxn held past the 30 s request timeout has an unknown outcome, settled by re-reading the committed offset', async (t) => {
  const { names } = await prepareScenario(suite, { seed: 216, hosts: 10, perHost: 60 });
  suite.proxy.setRules([
    {
      apiKey: API_KEYS.EndTxn,
      action: 'delay',
      delayMs: 35_000,
      clientIdPrefix: names.appId,
      skip: 4,
      times: 1,
    },
  ]);
  const result = await runOnce(suite, names, {}, 120_000);
  suite.proxy.clearRules();
  const log = result.stage.output();
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  t.diagnostic(`${suite.proxy.summary()}; aborted records ${outcome.abortedRecords}`);
  t.diagnostic(`settled commits: ${settledOutcomes(log).join(', ')}`);

  assert.equal(suite.proxy.count(API_KEYS.EndTxn).delayed, 1, 'one EndTxn was held back');
  assert.match(log, /"code":"REQUEST_TIMED_OUT"/, 'the stage’s commit timed out');
  assert.equal(settledOutcomes(log).length, 1, 'the unknown outcome was settled once');
  assert.equal(result.exit.code, 0, 'drained, then stopped cleanly');
  assertNoViolations(outcome, log.slice(-3000));
});
