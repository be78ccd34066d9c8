/**
 * A race the broker answers with UNKNOWN_SERVER_ERROR: a transaction's EndTxn arriving while a new producer's
 * InitProducerId for the same transactional id is fencing it. Kafka 4.1.1's coordinator lets an EndTxn v1 (the
 * version kafkajs speaks) through to a state transition that throws ("Preparing transaction state transition to
 * PREPARE_COMMIT while it already a pending state PREPARE_EPOCH_FENCE", in the broker's log) instead of answering
 * CONCURRENT_TRANSACTIONS or PRODUCER_FENCED. The stage meets it when a partition moves to a member that joined
 * while the old owner was committing (the benchmark's churn run, twice). Here the stage's own transactional
 * producer is the old owner, and the new owner's InitProducerId is written on a bare connection, so that it can
 * follow the commit's EndTxn by a chosen number of microtasks: one more each time the fence came first, one fewer
 * each time the commit won, until one lands inside the fence. The commit must be reported retriable (a commit in
 * doubt, settled by the next initialization), and the fence must have aborted it.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { StageError } from '../../src/errors/errors.js';
import { createTransactionalProducer } from '../../src/kafka/client/transactional-producer.js';
import { translateKafkaError } from '../../src/kafka/client/translate-error.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { createTopics, readAll, testKafka, uniqueName } from '../support/kafka.js';
import { initProducerId, RawKafkaConnection, transactionCoordinatorAddress } from '../support/raw-kafka.js';

/**
 * One try in 5 to 60 landed in the window on this machine (6 ms a try), one in 20 to 480 with both cores busy
 * elsewhere (13 ms a try): the bounds leave room for far worse luck.
 */
const MAX_TRIES = 10_000;
const MAX_MS = 120_000;
const TRANSACTION_TIMEOUT_MS = 60_000;
const SETTINGS = { transactionTimeoutMs: TRANSACTION_TIMEOUT_MS, initialRetryMs: 10 };
const CONCURRENT_TRANSACTIONS = 51;

let env: TestEnvironment;
let kafka: Kafka;
/** Connections by broker address, kept for the whole file: the bootstrap broker's, and each coordinator's. */
const connections = new Map<string, RawKafkaConnection>();

before(async () => {
  env = await testEnvironment();
  kafka = testKafka(env);
});

after(() => {
  for (const connection of connections.values()) connection.close();
});

async function connectionTo(address: string): Promise<RawKafkaConnection> {
  let connection = connections.get(address);
  if (!connection) {
    connection = await RawKafkaConnection.open(address);
    connections.set(address, connection);
  }
  return connection;
}

async function coordinatorOf(transactionalId: string): Promise<RawKafkaConnection> {
  const bootstrap = await connectionTo(env.brokers.split(',')[0] ?? '');
  return connectionTo(await transactionCoordinatorAddress(bootstrap, transactionalId));
}

/** The new owner's InitProducerId again until the fence's abort is over and it is answered without error. */
async function completeFence(coordinator: RawKafkaConnection, transactionalId: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const error = await initProducerId(coordinator, transactionalId, TRANSACTION_TIMEOUT_MS);
    if (error === 0) return;
    assert.equal(error, CONCURRENT_TRANSACTIONS, `InitProducerId for ${transactionalId}`);
    await sleep(10);
  }
  assert.fail(`the fence of ${transactionalId} did not complete`);
}

/** kafkajs's error for a broker answer, found along the causes: `type` is Kafka's error name ('UNKNOWN' for -1). */
function brokerAnswer(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

interface Hit {
  value: string;
  error: StageError;
  tries: number;
  outcomes: Record<string, number>;
}

async function raceUntilUnknownServerError(
  topic: string,
): Promise<{ hit: Hit } | { missed: Record<string, number> }> {
  const outcomes: Record<string, number> = {};
  const started = Date.now();
  let delay = 10;
  for (let tries = 1; tries <= MAX_TRIES && Date.now() - started < MAX_MS; tries++) {
    const transactionalId = uniqueName('race-tx');
    const value = `try-${tries}`;
    const coordinator = await coordinatorOf(transactionalId);
    const owner = await createTransactionalProducer(kafka, transactionalId, SETTINGS);
    let error: StageError | undefined;
    try {
      const transaction = await owner.begin();
      await transaction.send([{ topic, partition: 0, key: null, value: Buffer.from(value), headers: {} }]);
      const committing = transaction.commit().then(
        () => undefined,
        // The producer translates every failure into a StageError; anything else is a bug worth the throw.
        (e: unknown) => {
          if (e instanceof StageError) return e as StageError;
          throw e;
        },
      );
      for (let i = 0; i < delay; i++) await Promise.resolve();
      const fencing = initProducerId(coordinator, transactionalId, TRANSACTION_TIMEOUT_MS);
      error = await committing;
      await fencing;
    } finally {
      await owner.close();
    }
    const outcome = error === undefined ? 'committed' : error.code;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    // Told by the broker's own answer, not by the translation under test.
    if (error !== undefined && brokerAnswer(error) === 'UNKNOWN') {
      await completeFence(coordinator, transactionalId);
      return { hit: { value, error, tries, outcomes } };
    }
    // The fence one microtask sooner while the old owner's commit wins, one later once the fence comes first.
    delay = outcome === 'committed' ? Math.max(0, delay - 1) : delay + 1;
  }
  return { missed: outcomes };
}

test('an EndTxn racing a new owner fencing its transactional id: UNKNOWN_SERVER_ERROR, reported retriable, the transaction aborted', async (t) => {
  const topic = uniqueName('race-out');
  await createTopics(kafka, [{ topic, partitions: 1 }]);
  const raced = await raceUntilUnknownServerError(topic);
  if ('missed' in raced) {
    assert.fail(
      `no EndTxn was answered UNKNOWN_SERVER_ERROR in the tries allowed (outcomes: ${JSON.stringify(raced.missed)}); if this Kafka no longer has the race, the exception in translateTransactionalError may go`,
    );
  }
  const { value, error, tries, outcomes } = raced.hit;
  t.diagnostic(`hit on try ${tries}; outcomes ${JSON.stringify(outcomes)}`);

  // The fault happened (the hit was told by the answer kafkajs names UNKNOWN, -1): the broker said so itself.
  assert.match(error.message, /The server experienced an unexpected error/);
  assert.deepEqual([error.kind, error.code], ['retriable', 'BROKER_UNEXPECTED_ERROR'], error.message);
  // Negative control: the translation every other client of the stage uses makes the same answer fatal, which
  // is what ended a member of the churn run before the exception.
  const elsewhere = translateKafkaError(error.cause, 'the same answer outside a transactional producer');
  assert.deepEqual([elsewhere.kind, elsewhere.code], ['fatal', 'KAFKA_FATAL']);

  // The fence aborted the transaction: the commit in doubt did not land, as the next owner's committed offset says.
  const committed = await readAll(kafka, topic);
  const uncommitted = await readAll(kafka, topic, { readUncommitted: true });
  assert.ok(committed.complete && uncommitted.complete, 'both reads reached the end of the topic');
  const valuesOf = (records: { value: Buffer | null }[]) => records.map((r) => r.value?.toString());
  assert.ok(valuesOf(uncommitted.records).includes(value), 'read_uncommitted sees the raced record');
  assert.ok(!valuesOf(committed.records).includes(value), 'read_committed does not: it was aborted');
});
