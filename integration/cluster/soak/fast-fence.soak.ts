/**
 * The CI file's two kills (broker-kills.test.ts) on a cluster whose brokers are fenced after 6 s instead of
 * Kafka's default 9 s (`broker.session.timeout.ms`, with heartbeats every 1.5 s). Most of a broker-kill stall is
 * Kafka's own failover; this shows the stage's stall follows it down, so what a shorter stall needs is a broker
 * setting, not a change in the stage. Run by `npm run test:soak -- --cluster`, not by CI.
 */
import { test } from 'node:test';
import { judgeClusterFault } from '../../support/cluster-scenario.js';
import { killInputLeader, killTransactionCoordinator } from '../../support/cluster-strikes.js';
import { usePrivateCluster } from '../../support/private-cluster.js';

const suite = usePrivateCluster({
  'broker.session.timeout.ms': '6000',
  'broker.heartbeat.interval.ms': '1500',
});

test('cluster soak, brokers fenced after 6 s: the leader of an input partition is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killInputLeader));

test('cluster soak, brokers fenced after 6 s: the transaction coordinator of a task is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killTransactionCoordinator));
