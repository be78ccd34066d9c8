/**
 * A produce retry across a leader move on three brokers (`integration/support/leader-move-retry.ts`): the retry
 * writes only what no broker acknowledged, and kafkajs 2.2.4's own `sendMessages`, the negative control, writes an
 * acknowledged record twice inside a committed transaction. In a file of its own: its topics (one replica each,
 * moved between nodes) stay out of the broker-kill scenarios' cluster.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Kafka } from 'kafkajs';
import { originalSendMessages } from '../../test/kafka/kafkajs-original-send-messages.js';
import { clientWithSendMessages, sendAcrossALeaderMove } from '../support/leader-move-retry.js';
import { usePrivateCluster } from '../support/private-cluster.js';

const suite = usePrivateCluster();

test('cluster: a produce retry after a leader move writes only the partitions no broker acknowledged', async (t) => {
  const patched = await sendAcrossALeaderMove(t, suite, Kafka, 'patched');
  // Each node answered once: the first try's two, and the retry of the refused record alone at its new leader.
  // Each topic also holds the warm-up's record.
  assert.deepEqual(patched.produceRequests, { acknowledging: 1, refusing: 1, newLeader: 1 });
  assert.deepEqual(patched.committed, { acknowledged: 2, refused: 2 });

  // Negative control: kafkajs 2.2.4's own sendMessages sends the acknowledged record again with the refused one to
  // their new leader, and the committed transaction holds it twice.
  const original = await sendAcrossALeaderMove(
    t,
    suite,
    clientWithSendMessages(originalSendMessages),
    'original',
  );
  assert.deepEqual(original.produceRequests, { acknowledging: 1, refusing: 1, newLeader: 1 });
  assert.deepEqual(original.committed, { acknowledged: 3, refused: 2 });
});
