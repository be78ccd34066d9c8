/**
 * A produce retry across a leader move, on three real brokers. One send of a transaction writes a record to each
 * of two topics: node 1 acknowledges the first; node 2 refuses the second, as its partition moved to node 3 after
 * the producer last read the metadata (NOT_LEADER_OR_FOLLOWER, retriable). While the producer waits to retry,
 * the scenario moves the first topic's partition to node 3 too. The retry must write the second record and
 * nothing else: kafkajs 2.2.4 sent the acknowledged one again to its new leader, with its sequence already
 * advanced, and the committed transaction held it twice (the kafkajs patch `acknowledged-partitions`). Kafka's
 * Java console consumer at read_committed counts the records; the Produce requests each node answered show the
 * retry took place; kafkajs's own `sendMessages`, swapped into a producer of the same client
 * (`clientWithSendMessages`), is the negative control.
 */
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { javaReadCommitted } from './java-console-consumer.js';
import { uniqueName, withAdmin } from './kafka.js';
import type { ClusterSuite } from './private-cluster.js';

/** The producer's one retry waits this long: the test's moves happen inside it. */
const RETRY_WAIT_MS = 8000;
/** Longer than the warm-up and the first try, shorter than the wait for the retry. */
const METADATA_MAX_AGE_MS = 6000;
/** Where each topic ends after the warm-up: its record, then its commit marker. */
const WARM_UP_END = 2n;

type KafkaClass = typeof Kafka;

/**
 * The kafkajs client class as it would be with `send` as its producer's `sendMessages`: the message producer
 * takes `sendMessages` when it is loaded, so it and the modules that load it are loaded afresh around the swap,
 * and the module cache is put back as it was.
 */
export function clientWithSendMessages(send: unknown): KafkaClass {
  const requireFromKafkajs = createRequire(__filename);
  const [sendPath, ...loaders] = [
    'kafkajs/src/producer/sendMessages',
    'kafkajs/src/producer/messageProducer.js',
    'kafkajs/src/producer/index.js',
    'kafkajs/src/index.js',
  ].map((name) => requireFromKafkajs.resolve(name)) as [string, ...string[]];
  const cache = requireFromKafkajs.cache;
  requireFromKafkajs(sendPath);
  const saved = [sendPath, ...loaders].map((path) => [path, cache[path]] as const);
  try {
    const sendModule = cache[sendPath];
    if (!sendModule) throw new Error('kafkajs sendMessages is not loaded');
    cache[sendPath] = { ...sendModule, exports: send };
    for (const path of loaders) Reflect.deleteProperty(cache, path);
    return requireFromKafkajs(loaders[loaders.length - 1] ?? '') as KafkaClass;
  } finally {
    for (const [path, module] of saved) {
      if (module) cache[path] = module;
      else Reflect.deleteProperty(cache, path);
    }
  }
}

export interface RetryOutcome {
  /** Produce requests answered, per role (see ROLES). */
  produceRequests: Record<Role, number>;
  /** Records of each topic a read_committed reader sees, per Kafka's console consumer. */
  committed: Record<string, number>;
}

/**
 * Which node plays which part. Both partitions move to the third node, the first topic's after its record was
 * acknowledged, the second's before its record was sent, as a rolling restart moves leaders.
 */
const ROLES = { acknowledging: 1, refusing: 2, newLeader: 3 } as const;
type Role = keyof typeof ROLES;

async function moveTo(suite: ClusterSuite, topic: string, node: number, deadline: number): Promise<void> {
  await withAdmin(suite.kafka, (admin) =>
    admin.alterPartitionReassignments({
      topics: [{ topic, partitionAssignment: [{ partition: 0, replicas: [node] }] }],
    }),
  );
  while ((await suite.leaderOf(topic, 0)) !== node) {
    if (Date.now() > deadline) assert.fail(`${topic} did not move to node ${node} in time for the scenario`);
    await sleep(100);
  }
}

export async function sendAcrossALeaderMove(
  t: TestContext,
  suite: ClusterSuite,
  Client: KafkaClass,
  label: string,
): Promise<RetryOutcome> {
  const moved = uniqueName(`produce-retry-${label}-acknowledged`);
  const refused = uniqueName(`produce-retry-${label}-refused`);
  const client = new Client({
    clientId: `produce-retry-${label}`,
    brokers: suite.runningBrokers().split(','),
    logLevel: logLevel.NOTHING,
  });
  const producer = client.producer({
    transactionalId: uniqueName(`produce-retry-${label}`),
    idempotent: true,
    maxInFlightRequests: 1,
    // Fresh through the first try, stale at the retry: the retry reads where the partitions are led now.
    metadataMaxAge: METADATA_MAX_AGE_MS,
    retry: {
      initialRetryTime: RETRY_WAIT_MS,
      maxRetryTime: RETRY_WAIT_MS,
      factor: 0,
      multiplier: 1,
      retries: 1,
    },
  });
  let counting = false;
  const produceRequests: Record<number, number> = {};
  const nodeOf = new Map<string, number>();
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (!counting || payload.apiName !== 'Produce') return;
    const node = nodeOf.get(payload.broker) ?? -1;
    produceRequests[node] = (produceRequests[node] ?? 0) + 1;
  });
  await producer.connect();
  try {
    await withAdmin(suite.kafka, async (admin) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: moved, replicaAssignment: [{ partition: 0, replicas: [ROLES.acknowledging] }] },
          { topic: refused, replicaAssignment: [{ partition: 0, replicas: [ROLES.refusing] }] },
        ],
      });
      for (const broker of (await admin.describeCluster()).brokers)
        nodeOf.set(`${broker.host}:${broker.port}`, broker.nodeId);
    });
    // Every node serves the new topics' leaders before the producer asks any of them.
    for (const node of Object.values(ROLES)) {
      const one = new Kafka({ brokers: [suite.node(node).brokers], logLevel: logLevel.NOTHING });
      for (;;) {
        const metadata = await withAdmin(one, (admin) =>
          admin.fetchTopicMetadata({ topics: [moved, refused] }),
        );
        if (
          metadata.topics.every((topic) => topic.partitions.some((p) => p.partitionId === 0 && p.leader >= 0))
        )
          break;
        await sleep(100);
      }
    }
    // The warm-up loads the producer's metadata (a topic new to a send refreshes it): both topics, their first
    // leaders.
    const warmUp = await producer.transaction();
    const metadataAt = Date.now();
    await warmUp.sendBatch({
      acks: -1,
      topicMessages: [moved, refused].map((topic) => ({
        topic,
        messages: [{ key: 'warm-up', value: 'metadata' }],
      })),
    });
    await warmUp.commit();
    // Its commit markers are written before a partition moves, and before the next transaction adds partitions.
    const endOf = async (topic: string, isolation: 'read_committed' | 'read_uncommitted') =>
      (await partitionRanges(suite.kafka, topic, isolation)).get(0)?.end;
    for (const topic of [moved, refused])
      while ((await endOf(topic, 'read_committed')) !== (await endOf(topic, 'read_uncommitted')))
        await sleep(100);
    for (const topic of [moved, refused]) {
      const ends = [await endOf(topic, 'read_committed'), await endOf(topic, 'read_uncommitted')];
      assert.deepEqual(ends, [WARM_UP_END, WARM_UP_END], `the warm-up's record and marker in ${topic}`);
    }
    // Moved behind the producer's back: its first try still sends the second record to the node that led it.
    await moveTo(suite, refused, ROLES.newLeader, metadataAt + METADATA_MAX_AGE_MS - 2000);

    counting = true;
    const transaction = await producer.transaction();
    const started = Date.now();
    // One send, a record for each topic: one node acknowledges the first, the other refuses the second (it no
    // longer leads its partition).
    const sent = transaction.sendBatch({
      acks: -1,
      topicMessages: [
        {
          topic: moved,
          messages: [{ key: 'acknowledged', value: 'acknowledged, then led by another node' }],
        },
        { topic: refused, messages: [{ key: 'refused', value: 'refused, then written at its new leader' }] },
      ],
    });
    sent.catch(() => undefined);
    // The first try: acknowledged by one node (its high watermark moved; the transaction is open, so the last
    // stable offset has not), answered by the other.
    for (;;) {
      const high = await endOf(moved, 'read_uncommitted');
      if (high === WARM_UP_END + 1n && (produceRequests[ROLES.refusing] ?? 0) === 1) break;
      if (Date.now() - started > RETRY_WAIT_MS / 2)
        assert.fail(
          `the first try did not happen as designed: high watermark ${high}, produce requests per node ${JSON.stringify(produceRequests)}`,
        );
      await sleep(100);
    }
    await moveTo(suite, moved, ROLES.newLeader, started + RETRY_WAIT_MS - 2000);
    const movedMs = Date.now() - started;
    await sent;
    const sentMs = Date.now() - started;
    await transaction.commit();
    t.diagnostic(
      `${label}: moved after ${movedMs} ms, sent after ${sentMs} ms; produce requests answered per node ${JSON.stringify(produceRequests)}`,
    );
    // The send waited for its retry.
    assert.ok(sentMs >= RETRY_WAIT_MS, `sent after ${sentMs} ms, before the retry was due`);
  } finally {
    await producer.disconnect();
  }
  const committed: Record<string, number> = {};
  for (const [name, topic] of [
    ['acknowledged', moved],
    ['refused', refused],
  ] as const) {
    const lines = await javaReadCommitted({
      brokers: suite.runningBrokers(),
      topic,
      print: ['offset', 'key'],
      idleMs: 3000,
    });
    committed[name] = lines.length;
  }
  const byRole = Object.fromEntries(
    Object.entries(ROLES).map(([role, node]) => [role, produceRequests[node] ?? 0]),
  ) as Record<Role, number>;
  return { produceRequests: byRole, committed };
}
