/**
 * The CI file's leader and coordinator kills (broker-kills.test.ts) on a cluster laid out as production KRaft
 * deployments are: three brokers beside three dedicated controllers, so the struck broker is never the active
 * controller. On the combined nodes of the CI file, a kill of the node that is also the active controller adds a
 * Raft election, after which the new controller times the broker sessions afresh. Here Kafka's part is the broker
 * session timeout alone, whichever broker dies. Run by `npm run test:soak -- --cluster`, not by CI (six JVMs
 * start slowly on a small machine).
 */
import { test } from 'node:test';
import { judgeClusterFault } from '../../support/cluster-scenario.js';
import { killInputLeader, killTransactionCoordinator } from '../../support/cluster-strikes.js';
import { usePrivateCluster } from '../../support/private-cluster.js';

const suite = usePrivateCluster({}, { dedicatedControllers: true });

test('cluster soak, dedicated controllers: the leader of an input partition is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killInputLeader));

test('cluster soak, dedicated controllers: the transaction coordinator of a task is SIGKILLed mid-transaction under load', (t) =>
  judgeClusterFault(t, suite, killTransactionCoordinator));
