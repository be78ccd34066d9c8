/**
 * The longer cluster scenarios, run by `npm run test:soak -- --cluster` and not by CI (node's test runner only
 * collects *.test.js there): the group coordinator SIGKILLed, every node rolled in turn, and a transaction
 * coordinator frozen past the broker session timeout, each under load with a task held inside its transaction
 * when the strike lands, each judged by the auditor with the stall reported.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { describeRun, judgeClusterFault, runClusterFault } from '../../support/cluster-scenario.js';
import {
  killGroupCoordinator,
  killTransactionCoordinator,
  pauseTransactionCoordinator,
  rollAllNodes,
} from '../../support/cluster-strikes.js';
import { usePrivateCluster } from '../../support/private-cluster.js';

const suite = usePrivateCluster();

test('cluster soak: the group coordinator is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killGroupCoordinator));

test('cluster soak: all three nodes are rolled one at a time under load', (t) =>
  judgeClusterFault(t, suite, rollAllNodes));

test('cluster soak: a transaction coordinator is SIGSTOPped past the session timeout, then SIGCONT', (t) =>
  judgeClusterFault(t, suite, pauseTransactionCoordinator));

test('cluster soak negative control: without state rollback on abort, a coordinator kill leaves violations the auditor finds', async (t) => {
  const run = await runClusterFault(suite, killTransactionCoordinator, {
    env: { EOS_ROLLUP_BROKEN: 'no-state-rollback' },
  });
  t.diagnostic(describeRun(run));
  assert.ok(run.outcome.abortedRecords > 0, 'a transaction was aborted: read_uncommitted saw its records');
  assert.ok(run.outcome.report.violations.length > 0, 'the auditor caught the broken variant');
});
