/**
 * PartitionTask liveness against the in-memory fakes: a task recovers from a failed commit outside any batch
 * without waiting for new input; an idle flush advances stream time only once the task has consumed up to the
 * partition's last stable offset; a restore never loads the prefix of a changelog below an open transaction.
 */
import assert from 'node:assert/strict';
import { rollupProcessors } from './rollup-fixture.js';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';

import type { HostInfo, MetricRollup } from '../../src/domain/metric.js';
import { FaultInjector } from '../../src/engine/faults.js';
import { ProcessIsolationGate } from '../../src/engine/isolation-gate.js';
import type { InputMessage } from '../../src/engine/ports.js';
import { CommitLedger } from '../../src/engine/commit-ledger.js';
import { PartitionTask, type TaskDependencies } from '../../src/engine/task.js';
import { RetriableError } from '../../src/errors/errors.js';
import { StageEvents, type StageEventMap } from '../../src/observability/events.js';
import {
  FakeBatchControl,
  FakeBroker,
  FakeConsumer,
  FakeDecoder,
  T0,
  batchOf,
  message,
  metricValue,
  silentLogger,
} from './fakes.js';

const GROUP = 'eos-rollup-liveness';
const IN = 'server-metrics';
const OUT = 'server-metrics-rollup-1m';
const CHANGELOG = `${GROUP}-rollup-state-changelog`;
const P = 2;
const s = (seconds: number) => T0 + seconds * 1000;
const INVENTORY = new Map<string, HostInfo>([
  ['a', { host: 'a', region: 'eu-west', datacenter: 'dub-1', role: 'web' }],
]);

/** Three records of window [0 s, 60 s): the window closes once stream time reaches 70 s (grace 10 s). */
const INPUT: InputMessage[] = [
  message(0, metricValue('a', s(1), 10)),
  message(1, metricValue('a', s(20), 20)),
  message(2, metricValue('a', s(40), 30)),
];

/**
 * The fake broker, with what the real one reports besides: the input's last stable offset (records the task has
 * not consumed yet) and a changelog whose high watermark an open transaction holds above its last stable offset.
 */
class LivenessBroker extends FakeBroker {
  inputEnd = 0n;
  /** Changelog offsets above the last stable offset, for the next this-many range lookups; then aborted. */
  unstableOffsets = 0n;
  unstableLookups = 0;

  override async partitionRange(
    topic: string,
    partition: number,
  ): Promise<{ start: bigint; end: bigint; highWatermark: bigint }> {
    const range = await super.partitionRange(topic, partition);
    if (topic === IN) return { start: 0n, end: this.inputEnd, highWatermark: this.inputEnd };
    if (topic !== CHANGELOG || this.unstableOffsets === 0n) return { ...range, highWatermark: range.end };
    const highWatermark = range.end + this.unstableOffsets;
    if (this.unstableLookups > 0) {
      this.unstableLookups -= 1;
      return { ...range, highWatermark };
    }
    // Aborted: its records and its marker lie below the last stable offset now, invisible to read_committed.
    return { ...range, end: highWatermark + 1n, highWatermark: highWatermark + 1n };
  }
}

interface Harness {
  broker: LivenessBroker;
  consumer: FakeConsumer;
  task: PartitionTask;
  clock: { value: number };
  aborted: StageEventMap['task.aborted'][];
  waiting: StageEventMap['task.restore_waiting'][];
}

function setup(broker = new LivenessBroker(), options: { threshold?: number } = {}): Harness {
  const consumer = new FakeConsumer(broker);
  const events = new StageEvents();
  const clock = { value: 0 };
  const deps: TaskDependencies = {
    groupId: GROUP,
    incarnation: 'instance-1',
    stage: { id: 'liveness-test', version: '0.0.0-test' },
    topics: { input: IN, output: OUT, dlq: 'dlq', changelog: CHANGELOG, dlqPartitions: 1 },
    processor: rollupProcessors({
      windows: { sizeMs: 60_000, graceMs: 10_000 },
      decoder: new FakeDecoder(broker),
      encodeRollup: (rollup) => Buffer.from(JSON.stringify(rollup), 'utf8'),
      lookupHost: (host) => INVENTORY.get(host),
    }),
    maxRecordsPerTransaction: 1000,
    retry: { initialBackoffMs: 100, maxBackoffMs: 1000 },
    breaker: { threshold: options.threshold ?? 100, probeIntervalMs: 3_600_000 },
    kafka: broker,
    journal: broker.journal,
    consumer,
    outputPartition: () => 0,
    events,
    faults: new FaultInjector([]),
    logger: silentLogger,
    now: () => (clock.value += 1),
    // The fake wall clock moves by what the task sleeps: a bounded wait ends without real time passing.
    sleep: (ms) => {
      clock.value += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
    idleFlushMs: 5000,
    commitLedger: new CommitLedger(),
    isolationGate: new ProcessIsolationGate(),
    onFatal: (error) => {
      throw error;
    },
  };
  const h: Harness = {
    broker,
    consumer,
    task: new PartitionTask(P, deps),
    clock,
    aborted: [],
    waiting: [],
  };
  events.on('task.aborted', (e) => h.aborted.push(e));
  events.on('task.restore_waiting', (e) => h.waiting.push(e));
  return h;
}

function rollupsOf(broker: FakeBroker): MetricRollup[] {
  return broker.records(OUT).map((r) => JSON.parse(r.value?.toString('utf8') ?? 'null') as MetricRollup);
}

function initCount(broker: FakeBroker): number {
  return broker.log.filter((e) => e.step === 'init').length;
}

/** Assignment, then the whole input in one batch: committed offset 3, window [0, 60 s) open. */
async function consumeInput(h: Harness): Promise<void> {
  h.broker.inputEnd = 3n;
  await h.task.start();
  await h.task.handleBatch(batchOf(IN, P, INPUT), new FakeBatchControl(h.broker));
  assert.equal(h.broker.committed(GROUP, IN, P), 3n);
  assert.equal(h.task.windowCount, 1);
}

void test('a failed idle flush re-initializes the task at once (aborting its transaction); the retried flush closes the window', async () => {
  const h = setup();
  await consumeInput(h);
  h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'idle flush commit failed'));
  const initsBefore = initCount(h.broker);
  h.clock.value += 60_000;
  await h.task.flushIfIdle();

  assert.equal(h.aborted.length, 1, 'the flush failed');
  assert.equal(h.task.isRunning, true, 'running again without any new record');
  assert.equal(
    initCount(h.broker),
    initsBefore + 1,
    'a new producer: InitProducerId aborted the open transaction',
  );
  assert.equal(h.broker.aborted.length > 0, true, 'the failed transaction is aborted, not left open');
  assert.deepEqual(rollupsOf(h.broker), [], 'nothing of the failed flush is visible');

  h.clock.value += 60_000;
  await h.task.flushIfIdle();
  assert.deepEqual(
    rollupsOf(h.broker).map((r) => [r.host, r.window_start, r.count]),
    [['a', s(0), 3]],
    'the retried flush closed the window, once',
  );
  assert.deepEqual(h.broker.violations, []);
  await h.task.close(true);
});

void test('a failed offsets-only commit over skipped markers is retried after re-initializing, without a new batch', async () => {
  const h = setup();
  await consumeInput(h);
  h.broker.inputEnd = 5n; // two transaction markers follow the records
  h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'offsets-only commit failed'));
  await h.task.advanceOverSkipped(5n);

  assert.equal(h.aborted.length, 1, 'the first offsets-only commit failed');
  assert.equal(h.task.isRunning, true, 'running again without any new record');
  assert.equal(h.broker.committed(GROUP, IN, P), 5n, 'committed offsets reach the end of the input');
  assert.deepEqual(h.broker.violations, []);
  await h.task.close(true);
});

void test('an idle flush does not advance stream time while records up to the last stable offset are not consumed', async () => {
  const h = setup();
  await consumeInput(h);
  h.broker.inputEnd = 4n; // a record is in Kafka; the fetcher has not delivered it
  h.clock.value += 60_000;
  await h.task.flushIfIdle();
  assert.deepEqual(rollupsOf(h.broker), [], 'not idle: the window stays open for the record not fetched yet');
  assert.equal(h.task.windowCount, 1);

  // The late-fetched record belongs to the open window: it is counted, not dead-lettered as late.
  await h.task.handleBatch(
    batchOf(IN, P, [message(3, metricValue('a', s(50), 40))]),
    new FakeBatchControl(h.broker),
  );
  assert.equal(h.broker.records('dlq').length, 0, 'no late dead letter');
  h.clock.value += 60_000;
  await h.task.flushIfIdle();
  assert.deepEqual(
    rollupsOf(h.broker).map((r) => [r.host, r.window_start, r.count]),
    [['a', s(0), 4]],
    'consumed to the last stable offset: the flush closes the window with every record',
  );
  await h.task.close(true);
});

void test('a restore waits while an open transaction holds the changelog below its high watermark, then reads all of it', async () => {
  const first = setup();
  await consumeInput(first);
  await first.task.close(true);

  const broker = first.broker;
  broker.unstableOffsets = 2n;
  broker.unstableLookups = 3;
  const h = setup(broker);
  await h.task.start();
  assert.equal(h.waiting.length, 3, 'the wait is reported each time it is seen');
  assert.ok(h.waiting.every((w) => w.highWatermark - w.stableOffset === 2n));
  assert.equal(h.task.isRunning, true);
  assert.equal(h.task.windowCount, 1, 'the whole state restored');
  await h.task.close(true);
});

void test('a restore never loads a prefix: past RESTORE_STABLE_WAIT_MS the attempt fails retriably and the task does not run', async () => {
  const first = setup();
  await consumeInput(first);
  await first.task.close(true);

  const broker = first.broker;
  broker.unstableOffsets = 1n;
  broker.unstableLookups = Number.MAX_SAFE_INTEGER;
  const h = setup(broker, { threshold: 2 });
  const readsBefore = broker.log.filter((e) => e.step === 'readChangelog').length;
  await h.task.start();

  assert.equal(h.task.isRunning, false, 'never processing on a partial state');
  assert.deepEqual(
    h.aborted.map((a) => a.code),
    ['CHANGELOG_UNSTABLE', 'CHANGELOG_UNSTABLE'],
    'each attempt fails clearly, until the breaker opens',
  );
  assert.match(h.aborted[0]?.message ?? '', /open transaction: last stable offset \d+ < high watermark \d+/);
  assert.equal(
    broker.log.filter((e) => e.step === 'readChangelog').length,
    readsBefore,
    'no changelog record was read',
  );
  assert.ok(h.consumer.paused.has(P), 'quarantined: paused');
  await h.task.close(false);
});
