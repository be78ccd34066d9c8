/** The partition's breaker probe and idle-flush clock, without a task. */
import assert from 'node:assert/strict';
import { rollupOn } from './rollup-fixture.js';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { HostInfo } from '../../src/domain/metric.js';
import { FaultInjector } from '../../src/engine/faults.js';
import { IdleFlush, PartitionBreaker, type ProbeWork } from '../../src/engine/partition-timers.js';
import type { TaskKafkaPort } from '../../src/engine/ports.js';
import { RecordCollector } from '../../src/engine/record-collector.js';
import { FatalError, RetriableError } from '../../src/errors/errors.js';
import { StageEvents } from '../../src/observability/events.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { FakeBroker, FakeConsumer, FakeDecoder, T0, message, metricValue, silentLogger } from './fakes.js';

const P = 3;

function breaker(initialize: () => Promise<void>, threshold = 2) {
  const broker = new FakeBroker();
  const consumer = new FakeConsumer(broker);
  const events = new StageEvents();
  const states: string[] = [];
  const fatal: unknown[] = [];
  events.on('breaker.changed', ({ state }) => states.push(state));
  let queue = Promise.resolve();
  const probe: ProbeWork = {
    serially: (work) => (queue = queue.then(work)),
    isClosed: () => false,
    initialize,
    fatal: (error) => ({ wrapped: error }),
  };
  const b = new PartitionBreaker(
    P,
    {
      breaker: { threshold, probeIntervalMs: 5 },
      consumer,
      events,
      now: () => Date.now(),
      onFatal: (error) => fatal.push(error),
    },
    silentLogger,
    probe,
  );
  return { b, consumer, states, fatal, idle: () => queue };
}

void test('the breaker opens at its threshold: the partition pauses, a probe re-initializes and resumes it half-open', async () => {
  let initialized = 0;
  const h = breaker(() => {
    initialized += 1;
    return Promise.resolve();
  });
  assert.equal(h.b.recordFailure(), 'closed');
  assert.ok(!h.consumer.paused.has(P));
  assert.equal(h.b.recordFailure(), 'open');
  assert.ok(h.consumer.paused.has(P), 'paused at once');
  while (initialized === 0) await sleep(5);
  await h.idle();
  assert.ok(!h.consumer.paused.has(P), 'resumed by the probe');
  assert.equal(h.b.state, 'half-open');
  h.b.recordSuccess();
  assert.deepEqual(h.states, ['open', 'half-open', 'closed']);
  h.b.stop();
});

void test('a failed probe keeps the partition paused and probes again; a fatal one stops the stage', async () => {
  let probes = 0;
  const h = breaker(() => {
    probes += 1;
    return Promise.reject(
      probes < 2 ? new RetriableError('CONNECTION_FAILED', 'down') : new FatalError('KAFKA_FATAL', 'no'),
    );
  });
  h.b.recordFailure();
  h.b.recordFailure();
  while (h.fatal.length === 0) await sleep(5);
  assert.equal(probes, 2);
  assert.ok(h.consumer.paused.has(P), 'never resumed');
  assert.deepEqual(h.states, ['open', 'half-open', 'open', 'half-open']);
  assert.ok((h.fatal[0] as { wrapped: unknown }).wrapped instanceof FatalError);
  h.b.stop();
});

function idleSetup(end: bigint, idleFlushMs = 5000) {
  const broker = new FakeBroker();
  const clock = { value: 0 };
  const kafka: TaskKafkaPort = {
    createProducer: (id) => broker.createProducer(id),
    committedOffset: (g, t, p) => broker.committedOffset(g, t, p),
    readChangelog: (...args) => broker.readChangelog(...args),
    partitionRange: () => Promise.resolve({ start: 0n, end }),
  };
  const windows = { sizeMs: 60_000, graceMs: 10_000 };
  const idle = new IdleFlush(
    P,
    { idleFlushMs, topics: { input: 'in' }, kafka, now: () => clock.value },
    silentLogger,
  );
  const windowStore = new WindowStore();
  const store = rollupOn(windowStore, {
    windows,
    decoder: new FakeDecoder(broker),
    encodeRollup: () => Buffer.alloc(0),
    lookupHost: () => undefined,
  });
  return { idle, store, windowStore, clock, broker, windows };
}

function oneWindow(store: WindowStore, broker: FakeBroker): void {
  const windows = { sizeMs: 60_000, graceMs: 10_000 };
  const inventory = new Map<string, HostInfo>([
    ['a', { host: 'a', region: 'r', datacenter: 'd', role: 'x' }],
  ]);
  const collector = new RecordCollector(P, {
    incarnation: 'i',
    stage: { id: 's', version: '1' },
    topics: { input: 'in', output: 'out', dlq: 'dlq', changelog: 'cl', dlqPartitions: 1 },
    outputPartition: () => 0,
    faults: new FaultInjector([]),
    now: () => 0,
  });
  const processor = rollupOn(store, {
    windows,
    decoder: new FakeDecoder(broker),
    encodeRollup: () => Buffer.alloc(0),
    lookupHost: (host) => inventory.get(host),
  });
  collector
    .collect(processor, [message(0, metricValue('a', T0 + 1000))], 1n, { mode: 'normal' })
    .storeTx.apply();
}

void test('an idle flush is due only after idleFlushMs, and only when the advance closes a window', async () => {
  const h = idleSetup(1n);
  assert.equal(await h.idle.due(h.store, 1n), undefined, 'no window: nothing to close');
  oneWindow(h.windowStore, h.broker);
  h.idle.noteRecords(h.windowStore.streamTimeMs);
  h.clock.value = 4999;
  assert.equal(await h.idle.due(h.store, 1n), undefined, 'not idle long enough');
  h.clock.value = 60_000;
  assert.equal(await h.idle.due(h.store, 1n), undefined, 'stream time + 60 s does not pass the grace');
  h.clock.value = 80_000;
  assert.deepEqual(await h.idle.due(h.store, 1n), { target: T0 + 1000 + 80_000, idleForMs: 80_000 });
});

void test('an idle flush waits while records up to the last stable offset are not consumed', async () => {
  const h = idleSetup(5n);
  oneWindow(h.windowStore, h.broker);
  h.idle.noteRecords(h.windowStore.streamTimeMs);
  h.clock.value = 100_000;
  assert.equal(await h.idle.due(h.store, 1n), undefined, 'position 1 < last stable offset 5');
  assert.ok(await h.idle.due(h.store, 5n), 'consumed to the end: due');
});
