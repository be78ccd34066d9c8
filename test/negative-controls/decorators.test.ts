/** Each negative control breaks exactly its one rule, through the port it decorates, and nothing without one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BROKEN_VARIANTS } from '../../src/config/variables.js';
import { lineageHeaders } from '../../src/engine/lineage.js';
import { OPEN_GATE, ProcessIsolationGate } from '../../src/engine/isolation-gate.js';
import type { OutgoingRecord } from '../../src/engine/ports.js';
import { STATE_ROLLBACK } from '../../src/engine/state-rollback.js';
import {
  decorateForNegativeControl,
  type DecoratablePorts,
  type NegativeControlAdapters,
} from '../../src/negative-controls/decorators.js';
import { encodeStreamTime, encodeStreamTimeKey } from '../../src/rollup/changelog-codec.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { FakeBatchControl, FakeBroker, FakeConsumer, T0, batchOf, message } from '../engine/fakes.js';

function setup() {
  const broker = new FakeBroker();
  const ports: DecoratablePorts = {
    kafka: broker,
    journal: broker.journal,
    isolationGate: new ProcessIsolationGate(),
  };
  const outside: { partition: number; offset: bigint }[] = [];
  const reads: string[] = [];
  const adapters: NegativeControlAdapters = {
    groupId: 'g',
    inputTopic: 'in',
    instanceId: 'pod-1',
    readPartition: (isolation) => {
      reads.push(isolation);
      return Promise.resolve();
    },
    commitOffsetOutsideTransaction: (partition, offset) => {
      outside.push({ partition, offset });
      return Promise.resolve();
    },
  };
  return { broker, ports, adapters, outside, reads };
}

const record = (lastOffset: string): OutgoingRecord => ({
  topic: 'out',
  partition: 0,
  key: null,
  value: null,
  headers: lineageHeaders({
    sourceTopic: 'in',
    sourcePartition: 2,
    firstOffset: '0',
    lastOffset,
    attemptId: 'a#1',
    recordCount: 1,
  }),
});

void test('without a variant every port passes through untouched', () => {
  const s = setup();
  const decorated = decorateForNegativeControl(undefined, s.ports, s.adapters);
  assert.equal(decorated.kafka, s.ports.kafka);
  assert.equal(decorated.journal, s.ports.journal);
  assert.equal(decorated.isolationGate, s.ports.isolationGate);
  assert.equal(decorated.transactionalIdFor, undefined);
  assert.equal(decorated.stateRollback, undefined);
  const consumer = new FakeConsumer(s.broker);
  assert.equal(decorated.partitionControl(consumer), consumer);
  const control = new FakeBatchControl(s.broker);
  assert.equal(decorated.batchControl(batchOf('in', 0, [message(0, 'x')]), control), control);
});

void test('every variant the configuration allows is decorated, but the assigner, chosen where the consumer is built', () => {
  const s = setup();
  for (const variant of BROKEN_VARIANTS.filter((v) => v !== 'round-robin-assignment')) {
    const decorated = decorateForNegativeControl(variant, s.ports, s.adapters);
    const changed =
      decorated.kafka !== s.ports.kafka ||
      decorated.journal !== s.ports.journal ||
      decorated.isolationGate !== s.ports.isolationGate ||
      decorated.transactionalIdFor !== undefined ||
      decorated.stateRollback !== undefined ||
      !(decorated.partitionControl(new FakeConsumer(s.broker)) instanceof FakeConsumer);
    assert.ok(changed, variant);
  }
});

void test('offsets-outside-transaction: offsets committed by the consumer before the first send, never in the transaction', async () => {
  const s = setup();
  const { kafka } = decorateForNegativeControl('offsets-outside-transaction', s.ports, s.adapters);
  const producer = await kafka.createProducer('g-in-2');
  const transaction = await producer.begin();
  await transaction.send([record('41')]);
  assert.deepEqual(s.outside, [{ partition: 2, offset: 42n }], 'before the records reach the broker');
  await transaction.send([record('41')]);
  await transaction.sendOffsets('g', { topic: 'in', partition: 2, offset: 43n });
  await transaction.commit();
  assert.equal(s.outside.length, 1, 'once per transaction');
  assert.ok(!s.broker.log.some((e) => e.step === 'sendOffsets'), 'nothing in the transaction');
  assert.equal(s.broker.committed('g', 'in', 2), null, 'the transaction committed no offset');
  const offsetsOnly = await (await kafka.createProducer('g-in-2')).begin();
  await offsetsOnly.sendOffsets('g', { topic: 'in', partition: 2, offset: 50n });
  assert.deepEqual(s.outside[1], { partition: 2, offset: 50n });
});

void test('no-state-rollback: a failed transaction’s changes are applied, and memory is kept instead of restored', () => {
  const s = setup();
  const rollback = decorateForNegativeControl('no-state-rollback', s.ports, s.adapters).stateRollback;
  assert.ok(rollback);
  const store = new WindowStore();
  assert.equal(rollback.clearForRestore(store), true, 'an empty store is restored');
  store.restore(encodeStreamTimeKey(), encodeStreamTime(T0));
  const tx = store.begin();
  tx.advanceStreamTime(T0 + 5);
  rollback.dropFailed(tx);
  assert.equal(store.streamTimeMs, T0 + 5, 'the failed change survived');
  assert.equal(STATE_ROLLBACK.clearForRestore(new WindowStore()), true);
});

void test('restore-read-uncommitted: the changelog is read read_uncommitted through the adapter', async () => {
  const s = setup();
  const { kafka } = decorateForNegativeControl('restore-read-uncommitted', s.ports, s.adapters);
  await kafka.readChangelog(
    'cl',
    0,
    5n,
    () => undefined,
    () => Promise.resolve(),
  );
  assert.deepEqual(s.reads, ['read_uncommitted']);
  assert.ok(!s.broker.log.some((e) => e.step === 'readChangelog'));
});

void test('resolve-before-commit: the batch is resolved when its transaction first sends, before the commit, and seeks never rewind behind it', async () => {
  const s = setup();
  const decorated = decorateForNegativeControl('resolve-before-commit', s.ports, s.adapters);
  const control = new FakeBatchControl(s.broker);
  const batch = batchOf('in', 2, [message(40, 'x'), message(41, 'y')]);
  assert.equal(decorated.batchControl(batch, control), control, 'the task’s own resolves pass');
  const transaction = await (await decorated.kafka.createProducer('g-in-2')).begin();
  await transaction.send([record('41')]);
  assert.deepEqual(control.resolved, [41n], 'resolved before the commit');
  await transaction.abort();
  const consumer = new FakeConsumer(s.broker);
  const partition = decorated.partitionControl(consumer);
  partition.seek(2, 40n);
  assert.equal(consumer.positions.get(2), 42n, 'no rewind onto the failed transaction’s records');
  partition.seek(2, 50n);
  assert.equal(consumer.positions.get(2), 50n, 'forward seeks pass');
  partition.seek(1, 3n);
  assert.equal(consumer.positions.get(1), 3n, 'another partition is not held');
  partition.pause(2);
  assert.ok(consumer.paused.has(2), 'pause still reaches the consumer');
});

void test('transactional ids: shared by every partition, or per instance so the next owner cannot fence', () => {
  const s = setup();
  const shared = decorateForNegativeControl('shared-transactional-id', s.ports, s.adapters);
  assert.equal(shared.transactionalIdFor?.(0), 'g-in-shared');
  assert.equal(shared.transactionalIdFor(1), 'g-in-shared');
  const instance = decorateForNegativeControl('instance-transactional-id', s.ports, s.adapters);
  assert.equal(instance.transactionalIdFor?.(3), 'g-pod-1-3');
});

void test('no-attempt-release: journal writes go through, releases never do', async () => {
  const s = setup();
  const { journal } = decorateForNegativeControl('no-attempt-release', s.ports, s.adapters);
  const entry = { offset: 7n, attempts: 1, isolated: false, isolateUntil: 8n };
  await journal.write(0, { entry, stamp: { owner: 'o', seq: 1 } });
  await journal.release(0, { owner: 'o', seq: 1 }, undefined);
  assert.deepEqual((await s.broker.journal.read(0))?.entry, entry);
});

void test('no-isolation-gate: the open gate', () => {
  const s = setup();
  assert.equal(decorateForNegativeControl('no-isolation-gate', s.ports, s.adapters).isolationGate, OPEN_GATE);
});

void test('round-robin-assignment: no port changes (the input consumer picks its assigner where it is built)', () => {
  const s = setup();
  const decorated = decorateForNegativeControl('round-robin-assignment', s.ports, s.adapters);
  assert.equal(decorated.kafka, s.ports.kafka);
  assert.equal(decorated.isolationGate, s.ports.isolationGate);
});
