/**
 * Three brokers, one of them SIGKILLed under load while a task is held inside its open transaction: the leader of
 * the held task's input partition, then the transaction coordinator of its transactional id, then the node that
 * is the active controller (Kafka's slowest failover). The stage rides it out on the two others, the node comes
 * back, the stage drains, and the auditor finds no loss, no duplicate and no hanging transaction. The longest
 * stall of the input's committed offsets is reported, never asserted.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { judgeClusterFault } from '../support/cluster-scenario.js';
import {
  killActiveController,
  killInputLeader,
  killTransactionCoordinator,
} from '../support/cluster-strikes.js';
import { withAdmin } from '../support/kafka.js';
import { usePrivateCluster } from '../support/private-cluster.js';

const suite = usePrivateCluster();

test('cluster: three nodes form one cluster', async (t) => {
  const cluster = await withAdmin(suite.kafka, (admin) => admin.describeCluster());
  assert.deepEqual(cluster.brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
  t.diagnostic(`three nodes answering and a transaction committed after ${suite.cluster.startupMs} ms`);
});

test('cluster: the leader of an input partition is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killInputLeader));

test('cluster: the transaction coordinator of a task is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killTransactionCoordinator));

test('cluster: the node that is the active controller is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killActiveController));
