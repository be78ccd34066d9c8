/**
 * The ground everything else stands on: kafkajs transactions against the real broker behave as exactly-once
 * needs them to. Each test uses its own topics, group and transactional id.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { committedOffsets, createTopics, readAll, testKafka, uniqueName } from '../support/kafka.js';

let env: TestEnvironment;
let kafka: Kafka;

before(async () => {
  env = await testEnvironment();
  kafka = testKafka(env);
});

function values(records: { value: Buffer | null }[]): string[] {
  return records.map((r) => r.value?.toString() ?? '<null>').sort();
}

describe('kafkajs transactions on the real broker', () => {
  test('one transaction writes two topics and the group offsets atomically; an aborted one leaves no visible trace', async () => {
    const [a, b, input] = [uniqueName('compat-a'), uniqueName('compat-b'), uniqueName('compat-in')];
    const group = uniqueName('compat-group');
    await createTopics(kafka, [
      { topic: a, partitions: 1 },
      { topic: b, partitions: 1 },
      { topic: input, partitions: 1 },
    ]);
    const producer = kafka.producer({
      transactionalId: uniqueName('compat-tx'),
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();
    after(() => producer.disconnect());

    const committed = await producer.transaction();
    await committed.send({ topic: a, messages: [{ value: 'a-committed' }] });
    await committed.send({ topic: b, messages: [{ value: 'b-committed' }] });
    await committed.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '7' }] }],
    });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic: a, messages: [{ value: 'a-aborted' }] });
    await aborted.send({ topic: b, messages: [{ value: 'b-aborted' }] });
    await aborted.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '99' }] }],
    });
    await aborted.abort();

    for (const [topic, prefix] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const visible = await readAll(kafka, topic);
      assert.equal(visible.complete, true, `read_committed reached the end of ${topic}`);
      assert.deepEqual(values(visible.records), [`${prefix}-committed`]);
      const raw = await readAll(kafka, topic, { readUncommitted: true });
      assert.deepEqual(values(raw.records), [`${prefix}-aborted`, `${prefix}-committed`]);
    }
    assert.equal((await committedOffsets(kafka, group, input)).get(0), '7');
  });

  test('a transaction costs one request per step once coordinators are known (patched kafkajs remembers them)', async () => {
    const [output, input] = [uniqueName('compat-trips-out'), uniqueName('compat-trips-in')];
    const group = uniqueName('compat-trips-group');
    await createTopics(kafka, [
      { topic: output, partitions: 1 },
      { topic: input, partitions: 1 },
    ]);
    const producer = kafka.producer({
      transactionalId: uniqueName('compat-trips-tx'),
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();
    after(() => producer.disconnect());
    const requests: string[] = [];
    producer.on(producer.events.REQUEST, ({ payload }) => requests.push(payload.apiName));

    const rounds = 5;
    for (let i = 0; i < rounds; i++) {
      const transaction = await producer.transaction();
      await transaction.send({ topic: output, messages: [{ value: `v${i}` }] });
      await transaction.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: String(i + 1) }] }],
      });
      await transaction.commit();
    }
    const count = (apiName: string) => requests.filter((name) => name === apiName).length;
    // Unpatched kafkajs 2.2.4 sends FindCoordinator before each AddPartitionsToTxn, AddOffsetsToTxn,
    // TxnOffsetCommit and EndTxn: 5 per transaction here (the group's twice). Remembered, there are two lookups in all (transaction
    // and group coordinator), plus the one InitProducerId made.
    // kafkajs names FindCoordinator by its old name, GroupCoordinator.
    assert.ok(count('GroupCoordinator') <= 3, `FindCoordinator sent ${count('GroupCoordinator')} times`);
    assert.equal(count('EndTxn'), rounds);
    assert.equal(count('TxnOffsetCommit'), rounds);
    assert.equal((await readAll(kafka, output)).records.length, rounds);
    assert.equal((await committedOffsets(kafka, group, input)).get(0), String(rounds));
  });

  test('a second producer with the same transactional id fences the first: its commit fails and nothing it sent becomes visible', async () => {
    const topic = uniqueName('compat-fence');
    await createTopics(kafka, [{ topic, partitions: 1 }]);
    const transactionalId = uniqueName('compat-fence-tx');
    const zombie = kafka.producer({
      transactionalId,
      maxInFlightRequests: 1,
      idempotent: true,
      retry: { retries: 1 },
    });
    await zombie.connect();
    after(() => zombie.disconnect());
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic, messages: [{ value: 'zombie' }] });

    const successor = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true });
    await successor.connect();
    after(() => successor.disconnect());
    const successorTx = await successor.transaction(); // kafkajs sends InitProducerId lazily, here
    await successorTx.send({ topic, messages: [{ value: 'successor' }] });
    await successorTx.commit();

    await assert.rejects(zombieTx.commit(), (error: Error & { type?: string; cause?: { type?: string } }) => {
      const type = error.type ?? error.cause?.type ?? '';
      assert.match(
        `${error.name} ${type} ${error.message}`,
        /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|fenced|epoch/i,
      );
      return true;
    });
    const visible = await readAll(kafka, topic);
    assert.deepEqual(values(visible.records), ['successor']);
  });

  test('an open transaction of a SIGKILLed process blocks read_committed until a producer with the same id initialises and aborts it', async () => {
    const topic = uniqueName('compat-orphan');
    await createTopics(kafka, [{ topic, partitions: 1 }]);
    const transactionalId = uniqueName('compat-orphan-tx');
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    after(() => plain.disconnect());
    await plain.send({ topic, messages: [{ value: 'before' }] });

    const child = spawn(
      process.execPath,
      [join(__dirname, '../support/open-transaction-child.js'), env.brokers, transactionalId, topic, '3'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [firstLine] = (await once(child.stdout, 'data')) as [Buffer];
    assert.equal(firstLine.toString().trim(), 'sent');
    child.kill('SIGKILL');
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(code, null);
    assert.equal(signal, 'SIGKILL', 'the transaction owner really died');

    await plain.send({ topic, messages: [{ value: 'after' }] });
    const stable = (await partitionRanges(kafka, topic, 'read_committed')).get(0);
    const high = (await partitionRanges(kafka, topic, 'read_uncommitted')).get(0);
    assert.deepEqual(
      stable,
      { start: 0n, end: 1n },
      'the last stable offset is stuck at the open transaction',
    );
    assert.deepEqual(high, { start: 0n, end: 5n }, 'the high watermark is past it');
    const blocked = await readAll(kafka, topic);
    assert.deepEqual(values(blocked.records), ['before'], 'read_committed cannot pass the open transaction');

    const successor = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true });
    await successor.connect();
    after(() => successor.disconnect());
    const tx = await successor.transaction(); // InitProducerId: bumps the epoch and aborts the orphan
    await tx.abort();

    const released = await readAll(kafka, topic);
    assert.equal(released.complete, true);
    assert.equal(
      (await partitionRanges(kafka, topic, 'read_committed')).get(0)?.end,
      6n,
      'released: LSO = HW after the abort marker',
    );
    assert.deepEqual(values(released.records), ['after', 'before']);
    const raw = await readAll(kafka, topic, { readUncommitted: true });
    assert.deepEqual(values(raw.records), ['after', 'before', 'orphan-0', 'orphan-1', 'orphan-2']);
  });
});
