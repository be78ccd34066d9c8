import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  CLUSTER_PROPERTIES,
  CLUSTER_REPLICATION,
  clusterVoters,
  dedicatedControllerVoters,
  parseBrokerCount,
  quorumVoters,
} from '../../scripts/stack/cluster.js';
import { brokerProperties } from '../../scripts/stack/local-stack.js';

function parse(properties: string): Map<string, string> {
  return new Map(
    properties
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

const listeners = new Map([['PLAINTEXT' as const, 9092]]);

test('the one-broker stack keeps its standalone quorum and single replicas', () => {
  const properties = parse(brokerProperties('/data', listeners, 9093));
  assert.equal(properties.get('node.id'), '1');
  assert.equal(properties.get('controller.quorum.bootstrap.servers'), '127.0.0.1:9093');
  assert.equal(properties.has('controller.quorum.voters'), false);
  assert.equal(properties.get('offsets.topic.replication.factor'), '1');
  assert.equal(properties.get('transaction.state.log.replication.factor'), '1');
  assert.equal(properties.get('transaction.state.log.min.isr'), '1');
  assert.equal(properties.has('default.replication.factor'), false);
  assert.equal(properties.has('min.insync.replicas'), false);
});

test('a cluster node names its id, the three voters, replication factor 3 with two in sync, and a 5 s broker session', () => {
  const voters = clusterVoters([19093, 29093, 39093]);
  const properties = parse(
    brokerProperties('/data', new Map([['PLAINTEXT', 29092]]), 29093, CLUSTER_PROPERTIES, {
      nodeId: 2,
      voters,
    }),
  );
  assert.equal(properties.get('node.id'), '2');
  assert.equal(properties.get('process.roles'), 'broker,controller');
  assert.equal(
    properties.get('controller.quorum.voters'),
    '1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093',
  );
  assert.equal(properties.has('controller.quorum.bootstrap.servers'), false, 'a static quorum only');
  assert.equal(properties.get('listeners'), 'PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093');
  assert.equal(properties.get('default.replication.factor'), '3');
  assert.equal(properties.get('min.insync.replicas'), '2');
  assert.equal(properties.get('offsets.topic.replication.factor'), '3');
  assert.equal(properties.get('transaction.state.log.replication.factor'), '3');
  assert.equal(properties.get('transaction.state.log.min.isr'), '2');
  assert.equal(properties.get('broker.session.timeout.ms'), '5000');
  assert.equal(properties.get('broker.heartbeat.interval.ms'), '1250');
});

test('dedicated controllers: ids 4-6 vote; a controller listens on its controller port only, a broker on its clients only', () => {
  const voters = dedicatedControllerVoters([14093, 15093, 16093]);
  assert.deepEqual(
    voters.map((v) => v.nodeId),
    [4, 5, 6],
  );
  const node = (role: 'broker' | 'controller', nodeId: number, port: number) =>
    parse(
      brokerProperties('/data', new Map([['PLAINTEXT', port]]), port + 1, CLUSTER_REPLICATION, {
        nodeId,
        voters,
        role,
      }),
    );
  const controller = node('controller', 4, 14092);
  assert.equal(controller.get('process.roles'), 'controller');
  assert.equal(controller.get('node.id'), '4');
  assert.equal(controller.get('listeners'), 'CONTROLLER://127.0.0.1:14093');
  assert.equal(controller.has('advertised.listeners'), false);
  assert.equal(controller.has('inter.broker.listener.name'), false);
  assert.equal(
    controller.get('controller.quorum.voters'),
    '4@127.0.0.1:14093,5@127.0.0.1:15093,6@127.0.0.1:16093',
  );
  const broker = node('broker', 2, 29092);
  assert.equal(broker.get('process.roles'), 'broker');
  assert.equal(broker.get('listeners'), 'PLAINTEXT://127.0.0.1:29092');
  assert.equal(broker.get('advertised.listeners'), 'PLAINTEXT://127.0.0.1:29092');
  assert.equal(broker.get('controller.listener.names'), 'CONTROLLER', 'how a broker reaches the quorum');
  assert.equal(broker.get('controller.quorum.voters'), controller.get('controller.quorum.voters'));
  assert.equal(broker.get('min.insync.replicas'), '2');
});

test('a default replaced for the cluster is replaced in place, never written twice', () => {
  const text = brokerProperties('/data', listeners, 9093, CLUSTER_REPLICATION, {
    nodeId: 1,
    voters: clusterVoters([9093, 9094, 9095]),
  });
  const names = text
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => line.slice(0, line.indexOf('=')));
  assert.equal(new Set(names).size, names.length, names.join(', '));
});

test('voters are numbered from 1 in the order of their controller ports', () => {
  assert.deepEqual(clusterVoters([7, 8, 9]), [
    { nodeId: 1, controllerPort: 7 },
    { nodeId: 2, controllerPort: 8 },
    { nodeId: 3, controllerPort: 9 },
  ]);
  assert.equal(quorumVoters(clusterVoters([7])), '1@127.0.0.1:7');
});

test('--brokers takes 1 (the default) or 3, and names itself otherwise', () => {
  assert.equal(parseBrokerCount(undefined), 1);
  assert.equal(parseBrokerCount('1'), 1);
  assert.equal(parseBrokerCount('3'), 3);
  assert.throws(() => parseBrokerCount('2'), /--brokers "2" is not allowed: expected 1 or 3/);
  assert.throws(() => parseBrokerCount('three'), /--brokers "three"/);
});
