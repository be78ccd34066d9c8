/**
 * The CI file's kills (broker-kills.test.ts) on a cluster with Kafka's default broker session instead of the
 * stack's 5 s (`broker.session.timeout.ms` 9 s, heartbeats every 2 s; `CLUSTER_FAILOVER` of scripts/stack). Most
 * of a broker-kill stall is Kafka's own failover; this shows the stage's stall follows Kafka's setting, so that the
 * stall an operator sees is chosen on the brokers, not in the stage. Run by `npm run test:soak -- --cluster`, not
 * by CI.
 */
import { test } from 'node:test';
import { judgeClusterFault } from '../../support/cluster-scenario.js';
import {
  killActiveController,
  killInputLeader,
  killTransactionCoordinator,
} from '../../support/cluster-strikes.js';
import { usePrivateCluster } from '../../support/private-cluster.js';

const suite = usePrivateCluster({
  'broker.session.timeout.ms': '9000',
  'broker.heartbeat.interval.ms': '2000',
});

test("cluster soak, Kafka's default broker session: the leader of an input partition is SIGKILLed mid-transaction under load", (t) =>
  judgeClusterFault(t, suite, killInputLeader));

test("cluster soak, Kafka's default broker session: the transaction coordinator of a task is SIGKILLed mid-transaction under load", (t) =>
  judgeClusterFault(t, suite, killTransactionCoordinator));

test("cluster soak, Kafka's default broker session: the node that is the active controller is SIGKILLed mid-transaction under load", (t) =>
  judgeClusterFault(t, suite, killActiveController));
