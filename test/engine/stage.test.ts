/**
 * The stage without Kafka: its adapters are fakes over the FakeBroker, its clock a fake one. What is pinned here
 * is the stage's own part: the start order, tasks following the assignment, stop() and a fatal failure settling
 * `done`, the consumer restarted after a retriable give-up, and every duration taken from the injected clock.
 */
import assert from 'node:assert/strict';
import { rollupProcessors } from './rollup-fixture.js';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';

import { loadConfig } from '../../src/config/config.js';
import type { HostInfo } from '../../src/domain/metric.js';
import { FaultInjector, parseFaultSpecs } from '../../src/engine/faults.js';
import { Stage } from '../../src/engine/stage.js';
import type {
  BatchHandler,
  Clock,
  ConsumerListeners,
  InputConsumerPort,
  InventoryPort,
  StageAdapters,
  StageJournalPort,
} from '../../src/engine/stage-ports.js';
import { FatalError, RegistryUnavailableError, RetriableError, StageError } from '../../src/errors/errors.js';
import { StageEvents, type StageEventMap } from '../../src/observability/events.js';
import { FakeBroker, FakeConsumer, FakeDecoder, silentLogger } from './fakes.js';

const config = loadConfig({
  KAFKA_BROKERS: 'kafka-1:9092',
  SCHEMA_REGISTRY_URL: 'http://registry:8081',
  APP_ID: 'stage-test',
  IDLE_FLUSH_MS: '0',
});
const INVENTORY_LOAD_MS = 250;

class FakeClock implements Clock {
  nowMs = 1_000_000;
  readonly sleeps: number[] = [];

  now(): number {
    return this.nowMs;
  }

  /** Time passes at once: a back-off never waits in a test. */
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
    return Promise.resolve();
  }

  random(): number {
    return 0.5;
  }
}

class FakeStageConsumer extends FakeConsumer implements InputConsumerPort {
  handler: BatchHandler | undefined;
  starts = 0;
  stopped = false;
  disconnected = false;
  /** Rejects the next start with this error. */
  failNextStart: Error | undefined;

  constructor(
    broker: FakeBroker,
    readonly listeners: ConsumerListeners,
  ) {
    super(broker);
  }

  start(handler: BatchHandler): Promise<void> {
    this.starts += 1;
    const failure = this.failNextStart;
    this.failNextStart = undefined;
    if (failure) return Promise.reject(failure);
    this.handler = handler;
    return Promise.resolve();
  }

  commitOffsetOutsideTransaction(): Promise<void> {
    return Promise.reject(new Error('test fake: offsets are committed in transactions only'));
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.disconnected = true;
    return Promise.resolve();
  }
}

class FakeInventory implements InventoryPort {
  isCaughtUp = false;
  stopped = false;
  readonly hosts = new Map<string, HostInfo>([
    ['web-1', { host: 'web-1', region: 'eu', datacenter: 'dc1', role: 'web' }],
  ]);

  constructor(private readonly clock: FakeClock) {}

  get size(): number {
    return this.hosts.size;
  }

  lookup = (host: string): HostInfo | undefined => this.hosts.get(host);

  start(): Promise<void> {
    this.clock.nowMs += INVENTORY_LOAD_MS;
    this.isCaughtUp = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

interface Harness {
  stage: Stage;
  broker: FakeBroker;
  clock: FakeClock;
  inventory: FakeInventory;
  events: StageEvents;
  /** The adapters' calls, in order. */
  calls: string[];
  consumer(): FakeStageConsumer;
  journalClosed(): boolean;
}

/** `processorFailures`: what the processor's build throws, one per call, before it succeeds. */
function setup(processorFailures: Error[] = []): Harness {
  const broker = new FakeBroker();
  const clock = new FakeClock();
  const inventory = new FakeInventory(clock);
  const events = new StageEvents();
  const calls: string[] = [];
  let consumer: FakeStageConsumer | undefined;
  let journalClosed = false;
  const journal: StageJournalPort = {
    read: (partition) => broker.journal.read(partition),
    write: (partition, attempt) => broker.journal.write(partition, attempt),
    release: (partition, own, restore) => broker.journal.release(partition, own, restore),
    close: () => {
      journalClosed = true;
      return Promise.resolve();
    },
  };
  const adapters: StageAdapters = {
    decorateTaskPorts: (ports) => ({
      ...ports,
      partitionControl: (control) => control,
      batchControl: (_, control) => control,
    }),
    prepareTopics: () => {
      calls.push('prepareTopics');
      return Promise.resolve({
        inputPartitions: 4,
        outputPartitions: 2,
        dlqPartitions: 1,
        attemptsTopic: 'stage-test-processing-attempts',
        created: [],
      });
    },
    processor: () => {
      calls.push('processor');
      const failure = processorFailures.shift();
      if (failure) return Promise.reject(failure);
      return Promise.resolve(
        rollupProcessors({
          windows: config.windows,
          decoder: new FakeDecoder(broker),
          encodeRollup: (rollup) => Buffer.from(JSON.stringify(rollup), 'utf8'),
          lookupHost: inventory.lookup,
        }),
      );
    },
    journal: (attemptsTopic) => {
      calls.push(`journal ${attemptsTopic}`);
      return journal;
    },
    inventory: () => {
      calls.push('inventory');
      return inventory;
    },
    taskKafka: (atLeastOnce) => {
      calls.push(`taskKafka ${atLeastOnce ? 'at_least_once' : 'exactly_once'}`);
      return broker;
    },
    outputPartitioner: (count) => {
      calls.push(`outputPartitioner ${count}`);
      return () => 0;
    },
    consumer: (concurrency, listeners) => {
      calls.push(`consumer ${concurrency}`);
      consumer = new FakeStageConsumer(broker, listeners);
      return consumer;
    },
    faults: new FaultInjector(parseFaultSpecs(undefined), () => undefined),
    translateError: (error, context) =>
      error instanceof StageError
        ? error
        : new FatalError('KAFKA_FATAL', `${context}: ${String(error)}`, { cause: error }),
  };
  const stage = new Stage({
    config,
    logger: silentLogger,
    version: '9.9.9-test',
    instanceId: 'instance-1',
    adapters,
    clock,
    events,
  });
  return {
    stage,
    broker,
    clock,
    inventory,
    events,
    calls,
    consumer: () => {
      assert.ok(consumer, 'the stage built no consumer');
      return consumer;
    },
    journalClosed: () => journalClosed,
  };
}

function nextEvent<E extends keyof StageEventMap>(events: StageEvents, name: E): Promise<StageEventMap[E]> {
  return new Promise((resolve) => {
    const off = events.on(name, (payload) => {
      off();
      resolve(payload);
    });
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i += 1) {
    if (condition()) return;
    await tick();
  }
  assert.fail(`never happened: ${what}`);
}

/** Assigns `partitions` and waits until every new task has initialized (or failed to). */
async function assign(h: Harness, partitions: number[]): Promise<StageEventMap['stage.rebalanced']> {
  const settled = nextEvent(h.events, 'stage.rebalanced');
  h.consumer().listeners.onAssignment(partitions);
  return settled;
}

const transactionalId = (partition: number) => `${config.appId}-${config.topics.input}-${partition}`;

test('start drives the adapters in start-up order and times the inventory load on the injected clock', async () => {
  const h = setup();
  const caughtUp = nextEvent(h.events, 'inventory.caught_up');
  assert.equal(h.stage.lifecycle, 'created');
  await h.stage.start();
  assert.deepEqual(h.calls, [
    'prepareTopics',
    'processor',
    'journal stage-test-processing-attempts',
    'inventory',
    'taskKafka exactly_once',
    'outputPartitioner 2',
    'consumer 4',
  ]);
  assert.deepEqual(await caughtUp, { hosts: 1, durationMs: INVENTORY_LOAD_MS });
  assert.equal(h.consumer().starts, 1);
  assert.equal(h.stage.lifecycle, 'running');
  assert.equal(h.stage.instanceId, 'instance-1');
  // Running with the inventory loaded, but not ready before the group assigned anything.
  assert.deepEqual(h.stage.readinessFacts(), {
    stage: 'running',
    inventoryCaughtUp: true,
    hasAssignment: false,
    partitions: [],
  });
  assert.equal(h.stage.isReady, false);
  await h.stage.stop();
});

test('an assignment creates a task per partition; the next closes the tasks of partitions no longer owned', async () => {
  const h = setup();
  await h.stage.start();
  const rebalanced = await assign(h, [0, 1]);
  assert.deepEqual(rebalanced, { partitions: [0, 1], pauseMs: 0 });
  assert.deepEqual(
    h.broker.producers.map((p) => p.transactionalId),
    [transactionalId(0), transactionalId(1)],
  );
  // Initialized in the background: paused meanwhile, resumed once the task runs, and sought to its offset.
  assert.deepEqual([...h.consumer().paused], []);
  assert.deepEqual(
    h.broker.log.filter((e) => e.step === 'pause' || e.step === 'resume').map((e) => `${e.step} ${e.detail}`),
    ['pause 0', 'pause 1', 'resume 0', 'resume 1'],
  );
  assert.deepEqual(h.stage.assignedPartitions, [0, 1]);
  assert.deepEqual(
    h.stage.readinessFacts().partitions.map((p) => p.phase),
    ['running', 'running'],
  );
  assert.equal(h.stage.isReady, true);

  const closed = nextEvent(h.events, 'task.closed');
  await assign(h, [1, 2]);
  assert.deepEqual(await closed, { partition: 0, clean: true });
  const [first, second, third] = h.broker.producers;
  assert.equal(first?.isClosed, true, 'the task of partition 0 closed its producer');
  assert.equal(second?.isClosed, false, 'the task of partition 1 kept running');
  assert.equal(third?.transactionalId, transactionalId(2));
  assert.equal(h.broker.producers.length, 3, 'partition 1 kept its task: no new producer');
  assert.deepEqual(h.stage.assignedPartitions, [1, 2]);
  assert.deepEqual(h.broker.violations, []);
  await h.stage.stop();
});

test('the rebalance pause runs from the first interrupted batch to the settled assignment, on the injected clock', async () => {
  const h = setup();
  await h.stage.start();
  await assign(h, [0]);
  const handler = h.consumer().handler;
  assert.ok(handler);
  const rebalancing = new RetriableError('REBALANCE_IN_PROGRESS', 'the group is rebalancing');
  const failing = {
    topic: config.topics.input,
    partition: 0,
    lastOffset: 0n,
    messages: [{ partition: 0, offset: 0n, key: null, value: null, timestampMs: 0, headers: {} }],
  };
  // The batch waits for its commit; the heartbeat after it learns of a rebalance, as kafkajs's does.
  const heartbeatFails = {
    heartbeat: () => Promise.reject(rebalancing),
    resolveOffset: () => undefined,
    isActive: () => true,
  };
  await assert.rejects(handler(failing, heartbeatFails), rebalancing);
  h.clock.nowMs += 1234;
  const rebalanced = await assign(h, [0]);
  assert.equal(rebalanced.pauseMs, 1234);
  await h.stage.stop();
  assert.equal(
    h.broker.records(config.topics.dlq).length,
    1,
    'the partition stayed owned: its pending batch committed at the clean stop',
  );
});

test('stop() closes the tasks, the consumer, the inventory and the journal, and resolves done', async () => {
  const h = setup();
  await h.stage.start();
  await assign(h, [0, 1, 2]);
  await h.stage.stop();
  await h.stage.done;
  assert.equal(h.stage.lifecycle, 'stopped');
  assert.deepEqual(
    h.broker.producers.map((p) => p.isClosed),
    [true, true, true],
  );
  const consumer = h.consumer();
  assert.equal(consumer.stopped, true);
  assert.equal(consumer.disconnected, true);
  assert.equal(h.inventory.stopped, true);
  assert.equal(h.journalClosed(), true);
  assert.equal(h.stage.isReady, false);
  assert.deepEqual(h.broker.violations, []);
});

test('a task failure without recovery fails the stage: done rejects with it and everything is closed', async () => {
  const h = setup();
  await h.stage.start();
  const denied = new FatalError('AUTHORIZATION_FAILED', 'not allowed to write the transactional id');
  h.broker.failAt('init', 1, () => denied);
  h.consumer().listeners.onAssignment([0]);
  await assert.rejects(h.stage.done, (error: unknown) => {
    assert.ok(error instanceof StageError);
    assert.match(error.message, /task for partition 0 failed: not allowed/);
    return true;
  });
  assert.equal(h.stage.lifecycle, 'failed');
  assert.equal(h.consumer().disconnected, true);
  assert.equal(h.inventory.stopped, true);
  await until(() => h.journalClosed(), 'the journal closed');
  // A failed stage stays failed: stop() does not turn it into a clean stop.
  await assert.rejects(h.stage.stop());
  assert.equal(h.stage.lifecycle, 'failed');
});

test('a consumer that gave up on a retriable error is started again after a back-off on the injected clock', async () => {
  const h = setup();
  await h.stage.start();
  await assign(h, [0]);
  const consumer = h.consumer();
  consumer.failNextStart = new RetriableError('COORDINATOR_NOT_AVAILABLE', 'still no coordinator');
  consumer.listeners.onCrash(new RetriableError('COORDINATOR_NOT_AVAILABLE', 'the coordinator moved'), false);
  await until(() => consumer.starts === 3, 'the consumer started again');
  const { initialBackoffMs, maxBackoffMs } = config.retry;
  assert.deepEqual(h.clock.sleeps, [
    Math.min(maxBackoffMs, initialBackoffMs * 2),
    Math.min(maxBackoffMs, initialBackoffMs * 4),
  ]);
  assert.equal(h.broker.producers[0]?.isClosed, true, 'the task closed: its producer is replaced anyway');
  assert.equal(h.stage.lifecycle, 'running');
  await h.stage.stop();
  await h.stage.done;
});

test('a consumer that gave up on a fatal error fails the stage', async () => {
  const h = setup();
  await h.stage.start();
  const crash = new Error('an error the Kafka client cannot recover from');
  h.consumer().listeners.onCrash(crash, false);
  await assert.rejects(h.stage.done, crash);
  assert.equal(h.stage.lifecycle, 'failed');
  assert.equal(h.consumer().starts, 1);
});

test('a registry unavailable while the processor is built is waited for with the retry back-off; the start goes on', async () => {
  const unavailable = () =>
    new RegistryUnavailableError('schema registry unavailable while registering: Timeout');
  const h = setup([unavailable(), unavailable()]);
  await h.stage.start();
  assert.deepEqual(
    h.calls.filter((c) => c === 'processor'),
    ['processor', 'processor', 'processor'],
  );
  // Equal jitter at random 0.5: three quarters of 100 ms, then of 200 ms (the config's back-off).
  assert.deepEqual(h.clock.sleeps.slice(0, 2), [
    (config.retry.initialBackoffMs * 3) / 4,
    (config.retry.initialBackoffMs * 2 * 3) / 4,
  ]);
  assert.equal(h.stage.lifecycle, 'running');
  await h.stage.stop();
});

test('negative control: a processor build that fails for good (a rejected schema) ends the start at once', async () => {
  const h = setup([new FatalError('TOPIC_INCOMPATIBLE', 'schema registry rejected registering (HTTP 409)')]);
  await assert.rejects(h.stage.start(), /HTTP 409/);
  assert.deepEqual(
    h.calls.filter((c) => c === 'processor'),
    ['processor'],
  );
  assert.deepEqual(h.clock.sleeps, []);
});
