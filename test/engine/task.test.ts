/**
 * PartitionTask against in-memory fakes (test/engine/fakes.ts): the assignment order and the one-transaction
 * procedure of design §2-§3, and what survives a failure at each step. The fake broker only shows a
 * transaction's records and offsets once it commits, so "the task's state equals the changelog as of the last
 * commit" and "no rollup is committed twice" are checked against what a read_committed reader would see.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';

import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import type { HostInfo, MetricRollup } from '../../src/domain/metric.js';
import { FaultInjector, parseFaultSpecs, type HoldRelease } from '../../src/engine/faults.js';
import { ProcessIsolationGate } from '../../src/engine/isolation-gate.js';
import type { InputMessage } from '../../src/engine/ports.js';
import { CommitLedger } from '../../src/engine/commit-ledger.js';
import { CRASHES_BEFORE_ISOLATION } from '../../src/engine/attempt-policy.js';
import { MAX_PROCESSING_ATTEMPTS, PartitionTask, type TaskDependencies } from '../../src/engine/task.js';
import {
  CommitOutcomeUnknownError,
  FencedError,
  RegistryUnavailableError,
  RetriableError,
} from '../../src/errors/errors.js';
import { StageEvents, type BreakerState, type StageEventMap } from '../../src/observability/events.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { rollupProcessors } from './rollup-fixture.js';
import {
  FakeBatchControl,
  FakeBroker,
  FakeConsumer,
  FakeDecoder,
  T0,
  batchOf,
  eventually,
  manualRelease,
  message,
  metricValue,
  silentLogger,
  type FailStep,
  type LogEntry,
  type StoredRecord,
} from './fakes.js';

const GROUP = 'eos-rollup-test';
const IN = 'server-metrics';
const OUT = 'server-metrics-rollup-1m';
const DLQ = 'server-metrics-dlq';
const CHANGELOG = `${GROUP}-rollup-state-changelog`;
/** Not 0, so a task that mixed up partitions would be caught. */
const P = 3;
const DLQ_PARTITIONS = 2;
const STAGE = { id: 'eos-rollup-test-stage', version: '9.9.9-test' };

const INVENTORY = new Map<string, HostInfo>([
  ['a', { host: 'a', region: 'eu-west', datacenter: 'dub-1', role: 'web' }],
  ['b', { host: 'b', region: 'us-east', datacenter: 'iad-2', role: 'db' }],
]);

const s = (seconds: number) => T0 + seconds * 1000;

/**
 * Twelve records over four one-minute windows (grace 10 s). With batches of three: transaction 1 (0-2) only
 * changes state; 2 (3-5) closes W0; 3 (6-8) closes W1; 4 (9-11) has a late record and closes W2.
 */
const INPUT: InputMessage[] = [
  message(0, metricValue('a', s(1), 10)),
  message(1, metricValue('b', s(2), 20)),
  message(2, 'bad-0002', { 'trace-id': 'abc' }),
  message(3, metricValue('a', s(30), 30)),
  message(4, metricValue('b', s(61), 40)),
  message(5, metricValue('a', s(75), 50)), // stream time 75 s >= 0 + 60 + 10: W0 closes
  message(6, null),
  message(7, metricValue('a', s(65), 60)),
  message(8, metricValue('b', s(150), 70)), // closes W1
  message(9, metricValue('a', s(10), 80)), // W0 is closed: late
  message(10, metricValue('a', s(155), 90)),
  message(11, metricValue('c', s(215), 95)), // closes W2
];

interface Harness {
  broker: FakeBroker;
  consumer: FakeConsumer;
  decoder: FakeDecoder;
  events: StageEvents;
  task: PartitionTask;
  input: InputMessage[];
  batchSize: number;
  sleeps: number[];
  aborted: StageEventMap['task.aborted'][];
  breaker: BreakerState[];
  /** The fake wall clock: every `now()` adds 1 ms; a test may jump it. */
  clock: { value: number };
}

interface SetupOptions {
  input?: InputMessage[];
  batchSize?: number;
  maxRecordsPerTransaction?: number;
  maxRecordsUntilFirstCommit?: number;
  /** Unset: every batch is its own transaction. */
  commitIntervalMs?: number;
  threshold?: number;
  probeIntervalMs?: number;
  instanceId?: string;
  /** Share a broker (and consumer) with an earlier task: a new owner of the same partition. */
  broker?: FakeBroker;
  consumer?: FakeConsumer;
  idleFlushMs?: number;
  faults?: string;
  /** Where a `hold` fault waits: released by the test. */
  release?: HoldRelease;
  /** Told when a fault triggers (before its action). */
  onFault?: () => void;
  onProcessCrash?: 'quarantine' | 'dead-letter';
  /** The decoder needs no lookup: records are processed as they join the pending transaction (design §24). */
  processOnJoin?: boolean;
}

function setup(options: SetupOptions = {}): Harness {
  const broker = options.broker ?? new FakeBroker();
  const consumer = options.consumer ?? new FakeConsumer(broker);
  const decoder = new FakeDecoder(broker);
  decoder.knowsEverySchema = options.processOnJoin ?? false;
  const events = new StageEvents();
  const sleeps: number[] = [];
  const clock = { value: 0 };
  const deps: TaskDependencies = {
    groupId: GROUP,
    incarnation: options.instanceId ?? 'instance-1',
    stage: STAGE,
    topics: { input: IN, output: OUT, dlq: DLQ, changelog: CHANGELOG, dlqPartitions: DLQ_PARTITIONS },
    maxRecordsPerTransaction: options.maxRecordsPerTransaction ?? 1000,
    maxRecordsUntilFirstCommit: options.maxRecordsUntilFirstCommit,
    commitIntervalMs: options.commitIntervalMs,
    retry: { initialBackoffMs: 100, maxBackoffMs: 1000 },
    breaker: { threshold: options.threshold ?? 100, probeIntervalMs: options.probeIntervalMs ?? 60_000 },
    kafka: broker,
    journal: broker.journal,
    onProcessCrash: options.onProcessCrash,
    consumer,
    processor: rollupProcessors({
      windows: { sizeMs: 60_000, graceMs: 10_000 },
      decoder,
      encodeRollup: (rollup) => Buffer.from(JSON.stringify(rollup), 'utf8'),
      lookupHost: (host) => INVENTORY.get(host),
    }),
    outputPartition: () => 0,
    events,
    faults: new FaultInjector(
      parseFaultSpecs(options.faults),
      () => options.onFault?.(),
      Math.random,
      options.release,
    ),
    logger: silentLogger,
    now: () => (clock.value += 1),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    idleFlushMs: options.idleFlushMs ?? 0,
    commitLedger: new CommitLedger(),
    isolationGate: new ProcessIsolationGate(),
    onFatal: (error) => {
      throw error;
    },
  };
  const h: Harness = {
    broker,
    consumer,
    decoder,
    events,
    task: new PartitionTask(P, deps),
    input: options.input ?? INPUT,
    batchSize: options.batchSize ?? 3,
    sleeps,
    aborted: [],
    breaker: [],
    clock,
  };
  events.on('task.aborted', (e) => h.aborted.push(e));
  events.on('breaker.changed', (e) => h.breaker.push(e.state));
  return h;
}

/**
 * One fetch as kafkajs would make it: up to batchSize messages from the consumer's position. Afterwards the
 * position is where the task sought, else after the last resolved offset, else unchanged (fetched again).
 */
async function poll(h: Harness): Promise<'handled' | 'paused' | 'empty'> {
  if (h.consumer.paused.has(P)) return 'paused';
  const position = h.consumer.positions.get(P) ?? 0n;
  const messages = h.input.filter((m) => m.offset >= position).slice(0, h.batchSize);
  if (messages.length === 0) return 'empty';
  const seeksBefore = h.consumer.seeks;
  const control = new FakeBatchControl(h.broker, () => h.consumer.seeks === seeksBefore);
  await h.task.handleBatch(batchOf(IN, P, messages), control);
  // A commit the batch queued runs after the handler returns; the tests look at its outcome.
  await h.task.settled();
  const resolved = control.resolved[control.resolved.length - 1];
  if (h.consumer.seeks === seeksBefore && resolved !== undefined) h.consumer.positions.set(P, resolved + 1n);
  return 'handled';
}

async function runToEnd(h: Harness, maxPolls = 60): Promise<void> {
  for (let i = 0; i < maxPolls; i += 1) {
    if ((await poll(h)) !== 'handled') return;
  }
  assert.fail(`the task did not reach the end of its input in ${maxPolls} polls`);
}

function rollupsOf(broker: FakeBroker): MetricRollup[] {
  return broker.records(OUT).map((r) => JSON.parse(r.value?.toString('utf8') ?? 'null') as MetricRollup);
}

function rollupKeys(broker: FakeBroker): string[] {
  return rollupsOf(broker).map((r) => `${r.host}@${r.window_start}`);
}

function dlqOffsets(broker: FakeBroker): string[] {
  return broker.records(DLQ).map((r) => String(r.headers[DLQ_HEADERS.offset]));
}

function headerText(record: StoredRecord, name: string): string {
  const value = record.headers[name];
  assert.equal(typeof value, 'string', `header ${name} is a string`);
  return value as string;
}

/** The task's committed state, read through the private store: tests only. */
function taskState(task: PartitionTask): { windows: unknown[]; streamTimeMs: number | null } {
  const store = (task as unknown as { processor: { store: WindowStore } }).processor.store;
  return { windows: store.snapshot(), streamTimeMs: store.streamTimeMs };
}

/** The state a fresh task would restore from the committed changelog. */
function changelogState(broker: FakeBroker): { windows: unknown[]; streamTimeMs: number | null } {
  const store = new WindowStore();
  for (const record of broker.records(CHANGELOG, P)) {
    assert.ok(record.key, 'changelog records have keys');
    store.restore(record.key, record.value);
  }
  return { windows: store.snapshot(), streamTimeMs: store.streamTimeMs };
}

function indexOf(log: readonly LogEntry[], predicate: (e: LogEntry) => boolean, from = 0): number {
  for (let i = from; i < log.length; i += 1) {
    const entry = log[i];
    if (entry && predicate(entry)) return i;
  }
  return -1;
}

function stepsOf(log: readonly LogEntry[], from = 0): string[] {
  return log.slice(from).map((e) => e.step);
}

/** The outcome of the whole input without any failure: what every faulty run must end with. */
async function referenceRun(): Promise<{ rollups: MetricRollup[]; dlq: string[]; state: unknown }> {
  const h = setup();
  await runToEnd(h);
  return { rollups: rollupsOf(h.broker), dlq: dlqOffsets(h.broker), state: changelogState(h.broker) };
}

function assertNoDuplicateRollups(broker: FakeBroker): void {
  const keys = rollupKeys(broker);
  assert.equal(new Set(keys).size, keys.length, `a rollup was committed twice: ${keys.join(', ')}`);
}

async function assertFinalOutcome(h: Harness): Promise<void> {
  const reference = await referenceRun();
  assert.deepEqual(h.broker.violations, [], 'no producer was used after an error or after close');
  assertNoDuplicateRollups(h.broker);
  assert.deepEqual(rollupsOf(h.broker), reference.rollups);
  assert.deepEqual(dlqOffsets(h.broker), reference.dlq);
  assert.equal(h.broker.committed(GROUP, IN, P), 12n);
  assert.deepEqual(changelogState(h.broker), reference.state);
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
}

test('the reference run emits each closed (host, window) once with the counts computed offline', async () => {
  const h = setup();
  await runToEnd(h);
  const summary = rollupsOf(h.broker).map((r) => [r.host, (r.window_start - T0) / 1000, r.count]);
  assert.deepEqual(summary, [
    ['a', 0, 2],
    ['b', 0, 1],
    ['a', 60, 2],
    ['b', 60, 1],
    ['a', 120, 1],
    ['b', 120, 1],
  ]);
  assert.deepEqual(dlqOffsets(h.broker), ['2', '6', '9']);
  assert.equal(h.broker.committed(GROUP, IN, P), 12n);
  // Only host c's window is still open.
  assert.equal(h.task.windowCount, 1);
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  assert.deepEqual(h.broker.violations, []);
});

test('the first batch after assignment runs the assignment steps in order and is dropped; the next batch is processed', async () => {
  // A previous owner committed offsets 0-2 and their state; this task is the new owner of the partition.
  const previous = setup({ instanceId: 'old-owner' });
  await poll(previous);
  await poll(previous);
  assert.equal(previous.broker.committed(GROUP, IN, P), 3n);
  const changelogBefore = previous.broker.records(CHANGELOG, P).length;
  assert.ok(changelogBefore > 0);

  const h = setup({ broker: previous.broker, instanceId: 'new-owner' });
  h.consumer.positions.set(P, 0n); // kafkajs fetched from its own, stale idea of the position
  const start = h.broker.log.length;
  const first = new FakeBatchControl(h.broker);
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 3)), first);

  const log = h.broker.log;
  const init = indexOf(log, (e) => e.step === 'init', start);
  const committed = indexOf(log, (e) => e.step === 'committedOffset', start);
  const range = indexOf(log, (e) => e.step === 'partitionRange' && e.detail === CHANGELOG, start);
  const restore = indexOf(log, (e) => e.step === 'readChangelog', start);
  const seek = indexOf(log, (e) => e.step === 'seek', start);
  assert.ok(
    init >= 0 && committed >= 0 && range >= 0 && restore >= 0 && seek >= 0,
    stepsOf(log, start).join(),
  );
  assert.ok(init < committed, 'InitProducerId (fencing) comes before reading the committed offset');
  assert.ok(committed < range, 'the committed offset is read before the changelog end is taken');
  assert.ok(range < restore, 'the changelog end is taken before restoring');
  assert.ok(restore < seek, 'the consumer is sought only after the restore');
  assert.equal(log[seek]?.offset, 3n, 'sought to the committed offset');
  assert.equal(log[restore]?.offset, BigInt(changelogBefore), 'restored up to the changelog end');
  // Dropped: nothing sent, nothing resolved.
  assert.deepEqual(
    stepsOf(log, start).filter((step) =>
      ['prepare', 'begin', 'send', 'sendOffsets', 'commit'].includes(step),
    ),
    [],
  );
  assert.deepEqual(first.resolved, []);
  assert.equal(h.broker.committed(GROUP, IN, P), 3n);
  assert.deepEqual(taskState(h.task), changelogState(h.broker), 'state restored from the changelog');
  assert.equal(h.task.isRunning, true);

  // The next batch, fetched from the sought position, is processed by the new producer.
  const beforeNext = log.length;
  assert.equal(await poll(h), 'handled');
  const newProducer = log[init]?.producer;
  assert.deepEqual(
    log
      .slice(beforeNext)
      .filter((e) => e.producer !== undefined)
      .map((e) => [e.step, e.producer]),
    [
      ['begin', newProducer],
      ['send', newProducer], // rollups (W0 closes at offset 5) and changelog
      ['sendOffsets', newProducer],
      ['commit', newProducer],
    ],
  );
  assert.equal(h.broker.committed(GROUP, IN, P), 6n);

  // The old owner is fenced: its producer cannot commit any more, and it commits nothing.
  await previous.task.handleBatch(batchOf(IN, P, INPUT.slice(3, 6)), new FakeBatchControl(h.broker));
  assert.equal(previous.aborted[0]?.kind, 'fenced');
  await previous.task.close(false);

  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('one transaction sends rollups, dead letters and changelog in one send before sendOffsets, then commits; the committed offset is the last offset + 1', async () => {
  const h = setup();
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 1)), new FakeBatchControl(h.broker)); // assignment
  const start = h.broker.log.length;
  const control = new FakeBatchControl(h.broker);
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 6)), control);

  const txn = h.broker.log.slice(start).filter((e) => e.producer !== undefined);
  // Offsets 0-5 close W0 and hold one poison pill: rollups, dead letters and changelog, all in one send.
  assert.deepEqual(
    txn.map((e) => e.step),
    ['begin', 'send', 'sendOffsets', 'commit'],
  );
  assert.equal(txn[2]?.offset, 6n);
  assert.deepEqual(control.resolved, [5n]);
  assert.ok(
    indexOf(h.broker.log, (e) => e.step === 'resolveOffset', start) >
      indexOf(h.broker.log, (e) => e.step === 'commit', start),
    'offsets are resolved only after the commit',
  );
  assert.equal(h.broker.committed(GROUP, IN, P), 6n);
  // The send held the rollups (W0 closed), the dead letter and the changelog entries.
  const kinds = [OUT, DLQ, CHANGELOG].map((topic) => h.broker.records(topic).length);
  assert.ok(
    kinds.every((count) => count > 0),
    `rollups, dead letters and changelog: ${kinds.join(', ')}`,
  );
  assert.equal(
    txn[1]?.detail,
    kinds.reduce((a, b) => a + b),
  );
  assert.equal(rollupKeys(h.broker).length, 2);
  assert.deepEqual(dlqOffsets(h.broker), ['2']);
  assert.ok(h.broker.records(CHANGELOG, P).length > 0);

  // A batch ending in transaction markers: lastOffset lies beyond the last message, and the commit covers it.
  const withMarkers = new FakeBatchControl(h.broker);
  const markersStart = h.broker.log.length;
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(6, 9), 10n), withMarkers);
  const offsets = h.broker.log.slice(markersStart).filter((e) => e.step === 'sendOffsets');
  assert.deepEqual(
    offsets.map((e) => e.offset),
    [11n],
  );
  assert.equal(h.broker.committed(GROUP, IN, P), 11n);
  assert.deepEqual(withMarkers.resolved, [8n]);
  assert.deepEqual(h.broker.violations, []);
});

test('a batch larger than maxRecordsPerTransaction commits chunk by chunk; only the last chunk covers trailing markers', async () => {
  const h = setup({ maxRecordsPerTransaction: 2 });
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 1)), new FakeBatchControl(h.broker));
  const start = h.broker.log.length;
  const control = new FakeBatchControl(h.broker);
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 5), 6n), control);
  const steps = h.broker.log.slice(start).filter((e) => e.producer !== undefined);
  assert.deepEqual(
    steps.filter((e) => e.step === 'sendOffsets').map((e) => e.offset),
    [2n, 4n, 7n],
  );
  assert.equal(steps.filter((e) => e.step === 'commit').length, 3);
  assert.deepEqual(control.resolved, [1n, 3n, 4n]);
  assert.equal(h.broker.committed(GROUP, IN, P), 7n);
});

test('until its first transaction commits a task cuts at maxRecordsUntilFirstCommit: the journal suspects that range alone', async () => {
  const h = setup({ maxRecordsPerTransaction: 4, maxRecordsUntilFirstCommit: 2 });
  await h.task.start();
  const control = new FakeBatchControl(h.broker);
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 8)), control);
  assert.deepEqual(commitsSince(h, 0), { commits: 3, offsets: [2n, 6n, 8n] });
  assert.deepEqual(h.broker.journal.entry(P), { offset: 0n, attempts: 1, isolated: false, isolateUntil: 2n });
  assert.deepEqual(h.broker.violations, []);
});

/**
 * The three kinds go in one send; each kind's fault point is hit after it, only when that kind was in it. With
 * batches of three, transaction 1 (0-2) holds a dead letter and changelog but no rollup, transaction 2 (3-5) the
 * first rollups.
 */
const KIND_POINTS = [
  { point: 'after-dlq-send', failingTransaction: 1 },
  { point: 'after-changelog-send', failingTransaction: 1 },
  { point: 'after-output-send', failingTransaction: 2 },
] as const;

for (const { point, failingTransaction } of KIND_POINTS) {
  test(`${point} strikes after the one send and before sendOffsets, first at transaction ${failingTransaction}`, async () => {
    const h = setup({ faults: `${point}@1:throw` });
    await poll(h); // assignment
    for (let t = 1; t < failingTransaction; t++) await poll(h);
    const committedBefore = h.broker.committed(GROUP, IN, P);
    const start = h.broker.log.length;
    await poll(h); // the transaction the fault strikes
    assert.equal(h.broker.committed(GROUP, IN, P), committedBefore, 'nothing committed');
    assert.equal(h.aborted.length, 1, 'one attempt failed');
    const failed = h.broker.log.slice(start).find((e) => e.step === 'send')?.producer;
    assert.ok(failed !== undefined, 'the attempt sent its records');
    assert.deepEqual(
      h.broker.log
        .slice(start)
        .filter((e) => e.producer === failed)
        .map((e) => e.step),
      ['begin', 'send', 'abort', 'close'],
      'one send, then the fault: no sendOffsets, no commit',
    );
  });
}

const FAILING_STEPS: FailStep[] = ['begin', 'send', 'sendOffsets', 'commit'];

for (const step of FAILING_STEPS) {
  test(`a failure at ${step} discards the attempt, closes the producer for good, rewinds to the last commit and re-initialises`, async () => {
    const h = setup();
    await poll(h); // assignment
    await poll(h); // transaction 1: offsets 0-2
    assert.equal(h.broker.committed(GROUP, IN, P), 3n);
    const changelogBefore = h.broker.records(CHANGELOG, P).length;

    h.broker.failAt(step, 1, () => new RetriableError('KAFKA_RETRIABLE', `injected at ${step}`));
    await poll(h); // transaction 2 (offsets 3-5, closes W0) fails
    const failure = h.broker.injected[0];
    assert.ok(failure, `the fault at ${step} happened`);
    assert.equal(failure.step, step);
    const failed = failure.producer;
    const log = h.broker.log;

    // Aborted or abandoned: nothing of the attempt is visible read_committed.
    assert.equal(h.broker.committed(GROUP, IN, P), 3n);
    assert.deepEqual(rollupKeys(h.broker), []);
    assert.equal(h.broker.records(CHANGELOG, P).length, changelogBefore);
    assert.equal(h.aborted.length, 1);
    assert.equal(h.aborted[0]?.kind, 'retriable');

    // The producer: at most an abort of the failed transaction, then close; never anything after.
    const afterFailure = log.slice(failure.logIndex + 1).filter((e) => e.producer === failed);
    const allowed = step === 'begin' ? ['close'] : ['abort', 'close'];
    assert.ok(
      afterFailure.every((e) => allowed.includes(e.step)),
      `after failing at ${step}, producer ${failed} saw ${afterFailure.map((e) => e.step).join()}`,
    );
    assert.equal(afterFailure[afterFailure.length - 1]?.step, 'close');
    assert.equal(h.broker.producers[(failed ?? 0) - 1]?.isClosed, true);

    // State changes discarded: the task's state is the changelog as of the last commit.
    assert.deepEqual(taskState(h.task), changelogState(h.broker));

    // Rewound to the last committed offset.
    const seek = indexOf(log, (e) => e.step === 'seek', failure.logIndex);
    assert.ok(seek > failure.logIndex);
    assert.equal(log[seek]?.offset, 3n);
    assert.equal(h.consumer.positions.get(P), 3n);

    // The next batch re-initialises with a new producer (and is dropped), state again from the changelog.
    const beforeInit = log.length;
    await poll(h);
    const init = indexOf(log, (e) => e.step === 'init', beforeInit);
    assert.ok(init >= 0, 're-initialised');
    assert.ok((log[init]?.producer ?? 0) > (failed ?? 0), 'with a new producer');
    assert.equal(
      indexOf(log, (e) => e.step === 'begin', beforeInit),
      -1,
      'the re-initialising batch is dropped',
    );
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    if (step !== 'begin') {
      assert.ok(h.broker.aborted.length > 0, 'the failed attempt was sent and then aborted');
    }

    await runToEnd(h);
    const laterUse = log.slice(failure.logIndex + 1).filter((e) => e.producer === failed);
    assert.deepEqual(
      laterUse.map((e) => e.step),
      afterFailure.map((e) => e.step),
      'the failed producer was never used for a later transaction',
    );
    await assertFinalOutcome(h);
  });
}

test('a failed abort after a failed send still closes the producer and recovers', async () => {
  const h = setup();
  await poll(h);
  await poll(h);
  h.broker.failAt('send', 1, () => new RetriableError('KAFKA_RETRIABLE', 'send failed'));
  h.broker.failAt('abort', 1, () => new RetriableError('KAFKA_RETRIABLE', 'abort failed'));
  await poll(h);
  assert.deepEqual(
    h.broker.injected.map((f) => f.step),
    ['send', 'abort'],
  );
  assert.equal(h.broker.producers[0]?.isClosed, true);
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('a FencedError at commit re-initialises with a new producer; the old one is closed and never reused', async () => {
  const h = setup();
  await poll(h);
  await poll(h);
  h.broker.failAt('commit', 1, () => new FencedError('PRODUCER_FENCED', 'fenced by a newer epoch'));
  await poll(h);
  const [fenced] = h.aborted;
  assert.ok(fenced);
  assert.equal(fenced.kind, 'fenced');
  assert.equal(fenced.code, 'PRODUCER_FENCED');
  const old = h.broker.producers[0];
  assert.ok(old);
  assert.equal(old.isClosed, true);
  assert.equal(h.broker.producers.length, 1);
  assert.equal(h.broker.committed(GROUP, IN, P), 3n);

  await poll(h); // re-initialisation
  assert.equal(h.broker.producers.length, 2);
  assert.equal(h.broker.producers[1]?.isClosed, false);
  await runToEnd(h);
  const usedAfter = h.broker.log.filter(
    (e, i) => e.producer === old.id && i > (h.broker.injected[0]?.logIndex ?? 0) && e.step !== 'abort',
  );
  assert.deepEqual(
    usedAfter.map((e) => e.step),
    ['close'],
  );
  await assertFinalOutcome(h);
});

test('a commit whose outcome is unknown is settled by re-reading the committed offset, never by assuming', async () => {
  const h = setup();
  await poll(h);
  await poll(h);
  // The commit reaches the broker, but the answer is lost.
  h.broker.failAt('commit', 1, () => new CommitOutcomeUnknownError('commit timed out'), {
    afterEffect: true,
  });
  await poll(h);
  assert.equal(h.broker.committed(GROUP, IN, P), 6n, 'the transaction did commit');
  assert.equal(rollupKeys(h.broker).length, 2);

  await poll(h); // re-initialisation reads offset 6 and restores the committed W0 close
  const seeks = h.broker.log.filter((e) => e.step === 'seek');
  assert.equal(seeks[seeks.length - 1]?.offset, 6n);
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('an EndTxn answered with a broker-internal error (BROKER_UNEXPECTED_ERROR) is settled like a lost answer, whether or not it landed', async () => {
  for (const landed of [true, false]) {
    const h = setup();
    await poll(h);
    await poll(h);
    h.broker.failAt(
      'commit',
      1,
      () =>
        new RetriableError('BROKER_UNEXPECTED_ERROR', 'EndTxn: the server experienced an unexpected error'),
      { afterEffect: landed },
    );
    await poll(h);
    assert.equal(h.broker.injected.length, 1, 'the commit really failed');
    assert.equal(h.broker.committed(GROUP, IN, P), landed ? 6n : 3n, `landed: ${landed}`);
    await poll(h); // re-initialization settles it by the committed offset
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    await runToEnd(h);
    await assertFinalOutcome(h);
  }
});

/** Each `task.restored` of the harness's task, in order. */
function restores(h: Harness): StageEventMap['task.restored'][] {
  const seen: StageEventMap['task.restored'][] = [];
  h.events.on('task.restored', (e) => seen.push(e));
  return seen;
}

test('re-initializing after a failed commit keeps the state in memory and reads the changelog only from its last record', async () => {
  const h = setup();
  const restored = restores(h);
  await poll(h); // assignment: a full restore of the empty changelog
  await poll(h); // transaction 1 commits
  h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'commit failed'));
  await poll(h); // transaction 2 fails and is aborted
  assert.equal(h.broker.injected.length, 1, 'the commit really failed');
  await poll(h); // re-initialization
  assert.equal(restored.length, 2);
  const again = restored[1];
  assert.ok(again?.keptInMemory !== undefined && again.keptInMemory > 0, 'the windows in memory were kept');
  assert.equal(again.records, 0, 'nothing after the last committed changelog record was read');
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('a commit that landed though its outcome was unknown is read back over the state kept in memory', async () => {
  const h = setup();
  const restored = restores(h);
  await poll(h);
  await poll(h);
  const changelogBefore = h.broker.records(CHANGELOG, P).length;
  h.broker.failAt('commit', 1, () => new CommitOutcomeUnknownError('commit timed out'), {
    afterEffect: true,
  });
  await poll(h);
  const landed = h.broker.records(CHANGELOG, P).length - changelogBefore;
  assert.ok(landed > 0, 'the transaction did commit changelog records');
  await poll(h); // re-initialization
  const again = restored[1];
  assert.ok(again?.keptInMemory !== undefined, 'the state in memory was kept');
  assert.equal(again.records, landed, "exactly the landed transaction's changelog records were read");
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('the state in memory is not kept when its last record is not where the broker said, nor when it is too old', async () => {
  for (const spoil of ['fingerprint', 'age'] as const) {
    const h = setup();
    const restored = restores(h);
    await poll(h);
    if (spoil === 'fingerprint') h.broker.acknowledgeSkew = -1n;
    await poll(h); // transaction 1 commits; its acknowledged offset is one short when spoiled
    h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'commit failed'));
    await poll(h);
    if (spoil === 'age') h.clock.value += 12 * 3_600_000 + 1;
    await poll(h); // re-initialization: a full restore
    const again = restored[1];
    assert.ok(again, `${spoil}: restored again`);
    assert.equal(again.keptInMemory, undefined, `${spoil}: restored in full`);
    assert.equal(again.records, h.broker.records(CHANGELOG, P).length, `${spoil}: the whole changelog read`);
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    await runToEnd(h);
    await assertFinalOutcome(h);
  }
});

test('a registry failure opens no transaction and dead-letters nothing', async () => {
  const h = setup();
  await poll(h); // assignment
  h.decoder.failPrepare(1, () => new RegistryUnavailableError('registry answered 503'));
  const start = h.broker.log.length;
  await poll(h); // offsets 0-2, including the poison pill at 2
  const steps = stepsOf(h.broker.log, start);
  assert.equal(steps[0], 'prepare');
  for (const forbidden of ['begin', 'send', 'sendOffsets', 'commit', 'abort'] as const) {
    assert.ok(!steps.includes(forbidden), `no ${forbidden} after a registry failure: ${steps.join()}`);
  }
  assert.deepEqual(h.broker.records(DLQ), []);
  assert.deepEqual(h.broker.aborted, []);
  assert.equal(h.broker.committed(GROUP, IN, P), null);
  const [registry] = h.aborted;
  assert.ok(registry);
  assert.equal(registry.code, 'REGISTRY_UNAVAILABLE');
  assert.equal(registry.kind, 'retriable');
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  assert.equal(h.consumer.positions.get(P), 0n, 'rewound to the start');

  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('after threshold consecutive failures the breaker opens: the partition is paused and breaker.changed open is emitted', async () => {
  const h = setup({ threshold: 3 });
  for (let n = 1; n <= 3; n += 1) {
    h.broker.failAt('commit', n, () => new RetriableError('KAFKA_RETRIABLE', `commit failure ${n}`));
  }
  await poll(h); // assignment
  await poll(h); // failure 1
  await poll(h); // re-initialisation
  await poll(h); // failure 2
  assert.deepEqual(h.breaker, []);
  assert.ok(!h.broker.log.some((e) => e.step === 'pause'), 'not paused below the threshold');
  assert.deepEqual(h.sleeps, [75, 150], 'exponential backoff with equal jitter');
  await poll(h); // re-initialisation
  await poll(h); // failure 3: the threshold
  assert.equal(h.broker.injected.length, 3);
  assert.deepEqual(h.breaker, ['open']);
  assert.deepEqual(
    h.broker.log.filter((e) => e.step === 'pause').map((e) => e.detail),
    [P],
  );
  assert.ok(h.consumer.paused.has(P));

  // While open, a batch that was already fetched does nothing at all.
  const start = h.broker.log.length;
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 3)), new FakeBatchControl(h.broker));
  assert.deepEqual(stepsOf(h.broker.log, start), []);
  assert.equal(h.broker.committed(GROUP, IN, P), null);
  assert.deepEqual(h.broker.violations, []);
  await h.task.close(false);
});

test('a successful probe resumes the paused partition and the next commit closes the breaker', async () => {
  const h = setup({ threshold: 1, probeIntervalMs: 1 });
  h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'commit failed'));
  await poll(h);
  await poll(h);
  assert.ok(h.consumer.paused.has(P));
  for (let i = 0; i < 200 && h.consumer.paused.has(P); i += 1) await delay(5);
  assert.ok(!h.consumer.paused.has(P), 'resumed by the probe');
  assert.deepEqual(h.breaker, ['open', 'half-open']);
  const pause = indexOf(h.broker.log, (e) => e.step === 'pause');
  const init = indexOf(h.broker.log, (e) => e.step === 'init', pause);
  const resume = indexOf(h.broker.log, (e) => e.step === 'resume', pause);
  assert.ok(pause < init && init < resume, 'the probe re-initialises before resuming');
  await runToEnd(h);
  assert.deepEqual(h.breaker, ['open', 'half-open', 'closed']);
  await assertFinalOutcome(h);
  await h.task.close(true);
});

test('poison records go to the DLQ untouched with DLQ headers; every record of a transaction carries the same lineage', async () => {
  const key = Buffer.from([0xff, 0x00, 0x7f]);
  const value = Buffer.concat([Buffer.from('bad', 'utf8'), Buffer.from([0x00, 0xfe, 0xff])]);
  const original = { 'trace-id': 'abc', binary: Buffer.from([1, 2, 3]) };
  const input = [...INPUT];
  input[2] = message(2, value, original, key);
  const h = setup({ input, batchSize: 9 });
  await poll(h); // assignment
  const start = h.broker.log.length;
  await poll(h); // offsets 0-8: one transaction
  const send = h.broker.log.slice(start).filter((e) => e.step === 'send');
  assert.equal(send.length, 1, 'rollups, dead letters and changelog in one send');

  const dlq = h.broker.records(DLQ);
  assert.deepEqual(
    dlq.map((r) => r.partition),
    [P % DLQ_PARTITIONS, P % DLQ_PARTITIONS],
  );
  const [pill, nullPill] = dlq;
  assert.ok(pill && nullPill);
  assert.deepEqual(pill.key, key);
  assert.deepEqual(pill.value, value);
  assert.equal(headerText(pill, DLQ_HEADERS.topic), IN);
  assert.equal(headerText(pill, DLQ_HEADERS.partition), String(P));
  assert.equal(headerText(pill, DLQ_HEADERS.offset), '2');
  assert.equal(headerText(pill, DLQ_HEADERS.exception), 'AvroDecodeError');
  assert.equal(headerText(pill, DLQ_HEADERS.reason), 'avro-decode');
  assert.match(headerText(pill, DLQ_HEADERS.message), /cannot decode/);
  assert.equal(headerText(pill, DLQ_HEADERS.sourceTimestamp), String(T0 + 2));
  assert.match(headerText(pill, DLQ_HEADERS.failedAt), /^\d+$/);
  assert.equal(headerText(pill, DLQ_HEADERS.stageId), STAGE.id);
  assert.equal(headerText(pill, DLQ_HEADERS.stageVersion), STAGE.version);
  assert.equal(pill.headers['trace-id'], 'abc', 'original headers are kept');
  assert.deepEqual(pill.headers.binary, original.binary);
  assert.equal(nullPill.value, null);
  assert.deepEqual(nullPill.key, INPUT[6]?.key);
  assert.equal(headerText(nullPill, DLQ_HEADERS.reason), 'null-value');

  const all = [...h.broker.records(OUT), ...dlq, ...h.broker.records(CHANGELOG)];
  assert.equal(
    all.length,
    send.reduce((sum, e) => sum + Number(e.detail), 0),
  );
  const names = Object.values(LINEAGE_HEADERS);
  const lineageOf = (r: StoredRecord) => names.map((name) => headerText(r, name));
  const expected = [IN, String(P), '0', '8', lineageOf(all[0]!)[4], String(all.length)];
  for (const record of all)
    assert.deepEqual(lineageOf(record), expected, `lineage of a ${record.topic} record`);
});

test('across transactions, lineage groups are whole: each attempt id covers its own input range and record count', async () => {
  const h = setup();
  await runToEnd(h);
  const all = [...h.broker.records(OUT), ...h.broker.records(DLQ), ...h.broker.records(CHANGELOG)];
  const groups = new Map<string, StoredRecord[]>();
  for (const record of all) {
    const attempt = headerText(record, LINEAGE_HEADERS.attempt);
    groups.set(attempt, [...(groups.get(attempt) ?? []), record]);
  }
  assert.equal(groups.size, 4);
  const ranges: string[] = [];
  for (const [attempt, records] of groups) {
    const first = records[0]!;
    assert.equal(headerText(first, LINEAGE_HEADERS.records), String(records.length), attempt);
    for (const record of records) {
      for (const name of Object.values(LINEAGE_HEADERS)) {
        assert.equal(headerText(record, name), headerText(first, name), `${name} within ${attempt}`);
      }
    }
    ranges.push(
      `${headerText(first, LINEAGE_HEADERS.firstOffset)}-${headerText(first, LINEAGE_HEADERS.lastOffset)}`,
    );
  }
  assert.deepEqual(ranges.sort(), ['0-2', '3-5', '6-8', '9-11'].sort());
});

test('records below the task next offset (re-delivered after a seek) are skipped', async () => {
  const h = setup();
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 1)), new FakeBatchControl(h.broker)); // assignment
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 3)), new FakeBatchControl(h.broker));
  assert.equal(h.broker.committed(GROUP, IN, P), 3n);

  // Entirely below the next offset: no work at all, but the consumer is told to go on from the next offset.
  let start = h.broker.log.length;
  const below = new FakeBatchControl(h.broker);
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(0, 3)), below);
  assert.deepEqual(stepsOf(h.broker.log, start), ['resolveOffset']);
  assert.deepEqual(below.resolved, [2n]);

  // Overlapping: only offsets 3 and 4 are processed.
  start = h.broker.log.length;
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(1, 5)), new FakeBatchControl(h.broker));
  assert.equal(h.broker.log[start]?.step, 'prepare');
  assert.equal(h.broker.log[start]?.detail, 2);
  const offsets = h.broker.log.slice(start).filter((e) => e.step === 'sendOffsets');
  assert.deepEqual(
    offsets.map((e) => e.offset),
    [5n],
  );
  const lineage = h.broker.records(CHANGELOG, P).slice(-1)[0];
  assert.ok(lineage);
  assert.equal(headerText(lineage, LINEAGE_HEADERS.firstOffset), '3');
  assert.equal(headerText(lineage, LINEAGE_HEADERS.lastOffset), '4');

  h.consumer.positions.set(P, 5n);
  await runToEnd(h);
  await assertFinalOutcome(h);
});

test('close closes the producer and later batches are ignored', async () => {
  const h = setup();
  await poll(h);
  await poll(h);
  const closed: StageEventMap['task.closed'][] = [];
  h.events.on('task.closed', (e) => closed.push(e));
  await h.task.close(true);
  assert.equal(h.broker.producers[0]?.isClosed, true);
  assert.deepEqual(closed, [{ partition: P, clean: true }]);
  const start = h.broker.log.length;
  await h.task.handleBatch(batchOf(IN, P, INPUT.slice(3, 6)), new FakeBatchControl(h.broker));
  assert.deepEqual(stepsOf(h.broker.log, start), []);
  assert.deepEqual(h.broker.violations, []);
});

void test('idle flush: after idleFlushMs without records, stream time advances by the idle wall time and closes the last windows in a committed transaction', async () => {
  const h = setup({ input: INPUT.slice(0, 6), idleFlushMs: 5000 });
  await runToEnd(h);
  assert.deepEqual(rollupKeys(h.broker), [`a@${s(0)}`, `b@${s(0)}`]);
  const committedBefore = h.broker.committed(GROUP, IN, P);

  await h.task.flushIfIdle();
  assert.equal(rollupsOf(h.broker).length, 2, 'not idle long enough: nothing happens');
  h.clock.value += 20_000;
  await h.task.flushIfIdle();
  assert.equal(
    rollupsOf(h.broker).length,
    2,
    'idle, but 75 s + 20 s does not reach W1 close (130 s): nothing committed',
  );

  h.clock.value += 40_000;
  await h.task.flushIfIdle();
  assert.deepEqual(rollupKeys(h.broker), [`a@${s(0)}`, `b@${s(0)}`, `a@${s(60)}`, `b@${s(60)}`]);
  assert.equal(h.broker.committed(GROUP, IN, P), committedBefore, 'no input was consumed by the flush');
  const state = changelogState(h.broker);
  assert.deepEqual(state, taskState(h.task), 'the advance is in the changelog');
  assert.ok(
    (state.streamTimeMs ?? 0) >= s(130) && (state.streamTimeMs ?? 0) < s(140),
    'stream time = last record + idle time',
  );
  await h.task.close(true);
});

void test('a record whose processing throws is retried, then dead-lettered as processing-failed; the partition goes on', async () => {
  const h = setup({ faults: 'process-record@o4:throw', threshold: 10 });
  await runToEnd(h);
  const failures = h.aborted.filter((a) => a.code === 'RECORD_PROCESSING_FAILED');
  assert.equal(failures.length, MAX_PROCESSING_ATTEMPTS, 'tried exactly the bounded number of times');
  const dead = h.broker.records(DLQ).filter((r) => headerText(r, DLQ_HEADERS.reason) === 'processing-failed');
  assert.deepEqual(
    dead.map((r) => headerText(r, DLQ_HEADERS.offset)),
    ['4'],
  );
  assert.equal(h.broker.committed(GROUP, IN, P), 12n, 'the partition reached its end');
});

/**
 * A process that dies while processing `culprit` (simulated: the fault marks the moment, and the task is abandoned
 * there, never closed, as SIGKILL would leave it), restarted as a new task on the same broker and journal until
 * one gets through. Returns how many died.
 */
async function restartUntilThrough(
  broker: FakeBroker,
  culprit: number,
  onProcessCrash: 'quarantine' | 'dead-letter',
  maxProcesses = 10,
  input?: InputMessage[],
): Promise<number> {
  let crashes = 0;
  for (let run = 0; run < maxProcesses; run += 1) {
    const fate = { died: false };
    const h = setup({
      broker,
      instanceId: `process-${run}`,
      faults: `process-record@o${culprit}:throw`,
      onProcessCrash,
      input,
      onFault: () => {
        fate.died = true;
      },
    });
    for (let i = 0; i < 60 && !fate.died; i += 1) {
      if ((await poll(h)) !== 'handled') break;
    }
    if (!fate.died) {
      await h.task.close(true);
      return crashes;
    }
    crashes += 1;
  }
  assert.fail(`still crashing after ${maxProcesses} processes`);
}

void test('with ON_PROCESS_CRASH=dead-letter, a record that crashes the process is isolated, then dead-lettered after MAX_PROCESSING_ATTEMPTS crashes alone; everything else exactly once', async () => {
  const broker = new FakeBroker();
  const crashes = await restartUntilThrough(broker, 7, 'dead-letter');
  // The first process committed 0-5 before dying at 7 (not suspected); the next two died at 6 (suspected: 6-8 are
  // isolated); the record at 7 then died alone MAX_PROCESSING_ATTEMPTS times.
  assert.equal(crashes, 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS);
  const dead = broker.records(DLQ).filter((r) => headerText(r, DLQ_HEADERS.reason) === 'processing-failed');
  assert.deepEqual(
    dead.map((r) => headerText(r, DLQ_HEADERS.offset)),
    ['7'],
  );
  assert.match(headerText(dead[0]!, DLQ_HEADERS.message), /crashed the process 3 times/);
  assert.equal(broker.committed(GROUP, IN, P), 12n);
  assert.deepEqual(broker.violations, []);
  assertNoDuplicateRollups(broker);

  // The same outcome as a record that throws every time (dead-lettered by the in-memory count).
  const reference = setup({ faults: 'process-record@o7:throw', threshold: 10 });
  await runToEnd(reference);
  assert.deepEqual(rollupsOf(broker), rollupsOf(reference.broker));
  assert.deepEqual(dlqOffsets(broker).sort(), dlqOffsets(reference.broker).sort());
  assert.deepEqual(changelogState(broker), changelogState(reference.broker));

  assert.deepEqual(
    broker.journal.writes.map(({ entry }) =>
      entry ? `${entry.offset}${entry.isolated ? ' alone' : ''} #${entry.attempts}` : 'cleared',
    ),
    ['0 #1', '6 #1', '6 #2', '6 alone #1', '7 alone #1', '7 alone #2', '7 alone #3', '8 alone #1'],
    'journaled before processing: once per process, then record by record while isolated',
  );
});

void test('a crash loop whose committed offset sits on a transaction marker ends: the culprit past the marker is the one given up on', async () => {
  // No record at 6 (a transaction marker there): the batch 3-5 commits 6, and the next record is 7.
  const input = INPUT.filter((m) => m.offset !== 6n);
  const broker = new FakeBroker();
  const crashes = await restartUntilThrough(broker, 7, 'dead-letter', 10, input);
  assert.equal(crashes, 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS);
  assert.deepEqual(
    broker
      .records(DLQ)
      .filter((r) => headerText(r, DLQ_HEADERS.reason) === 'processing-failed')
      .map((r) => headerText(r, DLQ_HEADERS.offset)),
    ['7'],
  );
  assert.equal(broker.committed(GROUP, IN, P), 12n);
});

void test('by default a record that crashes the process each time alone quarantines its partition: paused at its offset, nothing dead-lettered or committed past it', async () => {
  const broker = new FakeBroker();
  const crashes = await restartUntilThrough(broker, 7, 'quarantine');
  assert.equal(crashes, 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS);
  const h = setup({ broker, instanceId: 'after-the-crashes' });
  const quarantined: StageEventMap['partition.quarantined'][] = [];
  h.events.on('partition.quarantined', (event) => quarantined.push(event));
  for (let i = 0; i < 20; i += 1) if ((await poll(h)) !== 'handled') break;
  assert.deepEqual(quarantined, [{ partition: P, offset: 7n, crashes: MAX_PROCESSING_ATTEMPTS }]);
  assert.ok(h.consumer.paused.has(P), 'the partition is paused');
  assert.equal(broker.committed(GROUP, IN, P), 7n, 'nothing committed past the culprit');
  assert.ok(!dlqOffsets(broker).includes('7'), 'the culprit is not dead-lettered');
  await h.task.advanceOverSkipped(12n);
  assert.equal(broker.committed(GROUP, IN, P), 7n, 'no offsets-only commit either');
  await h.task.close(true);
  assert.deepEqual(broker.journal.entry(P), { offset: 7n, attempts: 3, isolated: true, isolateUntil: 9n });
});

void test('the journal is written before the first record is processed, and only once per task in normal mode', async () => {
  const h = setup();
  await poll(h); // assignment: the journal is read, nothing written
  assert.deepEqual(
    h.broker.log.filter((e) => e.step.startsWith('journal')).map((e) => e.step),
    ['journalRead'],
  );
  const start = h.broker.log.length;
  await runToEnd(h);
  const steps = stepsOf(h.broker.log, start);
  assert.ok(steps.indexOf('journalWrite') < steps.indexOf('begin'), steps.join());
  assert.equal(steps.filter((s) => s === 'journalWrite').length, 1, 'one write for all four transactions');
  await h.task.close(true);
  assert.deepEqual(h.broker.journal.entry(P), { offset: 0n, attempts: 1, isolated: false, isolateUntil: 3n });
});

void test('a task closed without committing past its attempt takes the attempt back: a clean stop or rebalance is no crash', async () => {
  const broker = new FakeBroker();
  const first = setup({ broker });
  await poll(first);
  broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'commit failed'));
  await poll(first); // journaled at 0, then the transaction failed: nothing committed
  assert.equal(broker.journal.entry(P)?.attempts, 1);
  await first.task.close(true);
  assert.equal(broker.journal.entry(P), undefined, 'taken back');

  const second = setup({ broker });
  await runToEnd(second);
  assert.deepEqual(
    broker.journal.writes.map(({ entry }) => entry?.isolated),
    [false, false],
    'the next owner processes normally, not isolated',
  );
  assert.deepEqual(
    broker.journal.releases.map(({ applied, entry }) => [applied, entry]),
    [[true, null]],
  );
  await second.task.close(true);
  assert.equal(broker.journal.releases.length, 1, 'an attempt that committed past its offset is left as is');
});

void test('records that throw are retried in memory: the retries are one attempt, not crashes', async () => {
  const h = setup({ faults: 'process-record@o4:throw', threshold: 10 });
  await runToEnd(h);
  assert.deepEqual(
    h.broker.journal.writes.map(({ entry }) => entry?.offset),
    [0n],
  );
});

void test('an idle partition journals nothing', async () => {
  const h = setup({ input: [] });
  await h.task.start();
  await h.task.advanceOverSkipped(5n);
  await h.task.close(true);
  assert.deepEqual(h.broker.journal.writes, []);
  assert.equal(h.broker.committed(GROUP, IN, P), 5n);
});

void test('a journal write that fails is a retriable failure before anything is processed or sent', async () => {
  const h = setup();
  await poll(h);
  h.broker.journal.failWrites(1);
  const start = h.broker.log.length;
  await poll(h);
  const steps = stepsOf(h.broker.log, start);
  assert.ok(!steps.includes('begin'), steps.join());
  assert.equal(h.aborted[0]?.code, 'KAFKA_RETRIABLE');
  await runToEnd(h);
  await assertFinalOutcome(h);
});

/** Polls until the input is drained, the fake clock jumping past the interval before each poll. */
async function drainOnTheInterval(h: Harness, intervalMs: number): Promise<void> {
  for (let i = 0; i < 60; i += 1) {
    h.clock.value += intervalMs;
    if ((await poll(h)) !== 'handled') return;
  }
  assert.fail('the task did not reach the end of its input in 60 polls');
}

function commitsSince(h: Harness, start: number): { commits: number; offsets: (bigint | undefined)[] } {
  const steps = h.broker.log.slice(start).filter((e) => e.producer !== undefined);
  return {
    commits: steps.filter((e) => e.step === 'commit').length,
    offsets: steps.filter((e) => e.step === 'sendOffsets').map((e) => e.offset),
  };
}

/** Hands the task the input records [from, to) as one batch, as kafkajs would, without waiting for its queue. */
async function handOver(h: Harness, from: number, to: number): Promise<FakeBatchControl> {
  const control = new FakeBatchControl(h.broker, () => true);
  await h.task.handleBatch(batchOf(IN, P, h.input.slice(from, to)), control);
  return control;
}

for (const processOnJoin of [false, true]) {
  const mode = processOnJoin ? ' (records processed as they join)' : '';

  void test(`commit interval${mode}: after a rejoin kafkajs hands the pending records over again from the committed offset; the task skips them and resolves up to its pending end`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 1000 });
    await poll(h); // assignment
    await poll(h); // 0-2
    await poll(h); // 3-5: pending, not committed
    assert.equal(h.broker.committed(GROUP, IN, P), null);
    const start = h.broker.log.length;
    // A rejoin: kafkajs starts the kept partition again at the committed offset (none: the start).
    h.consumer.positions.set(P, 0n);
    await poll(h);
    assert.deepEqual(commitsSince(h, start), { commits: 0, offsets: [] });
    assert.equal(
      h.consumer.positions.get(P),
      6n,
      'the next fetch starts after the pending records, not at 0 again',
    );
    await drainOnTheInterval(h, 1000);
    await h.task.close(true);
    await assertFinalOutcome(h);
  });

  void test(`commit interval${mode}: two batches within the interval make one transaction, committed by the batch that finds it elapsed`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 1000 });
    await poll(h); // assignment
    const start = h.broker.log.length;
    await poll(h); // 0-2
    await poll(h); // 3-5
    assert.deepEqual(
      commitsSince(h, start),
      { commits: 0, offsets: [] },
      'nothing begun within the interval',
    );
    assert.equal(h.broker.committed(GROUP, IN, P), null);
    assert.equal(taskState(h.task).windows.length, 0, 'no state change before the commit');
    assert.equal(h.consumer.positions.get(P), 6n, 'kafkajs fetches on past the pending records');
    h.clock.value += 1000;
    await poll(h); // 6-8: the interval has elapsed
    assert.deepEqual(commitsSince(h, start), { commits: 1, offsets: [9n] });
    assert.deepEqual(rollupKeys(h.broker), [`a@${s(0)}`, `b@${s(0)}`, `a@${s(60)}`, `b@${s(60)}`]);
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    const attempts = new Set(
      h.broker.records(CHANGELOG, P).map((r) => headerText(r, LINEAGE_HEADERS.attempt)),
    );
    assert.equal(attempts.size, 1, 'one transaction: one lineage attempt');
    await drainOnTheInterval(h, 1000);
    await h.task.close(true);
    await assertFinalOutcome(h);
  });

  void test(`commit interval${mode}: when it elapses with no further batch, a timer commits the pending transaction`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 50 });
    await poll(h);
    await poll(h);
    await poll(h);
    assert.equal(h.broker.committed(GROUP, IN, P), null);
    h.clock.value += 50;
    // The timer is real (50 ms); wait for its commit, bounded, rather than a fixed time.
    await eventually('the timer commits', () => h.broker.committed(GROUP, IN, P) !== null);
    assert.equal(h.broker.committed(GROUP, IN, P), 6n);
    assert.equal(h.broker.log.filter((e) => e.step === 'commit').length, 1);
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    await h.task.close(true);
  });

  void test(`commit interval${mode}: a transaction holding maxRecordsPerTransaction records commits at once, within the interval`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 60_000, maxRecordsPerTransaction: 4 });
    await poll(h);
    const start = h.broker.log.length;
    await poll(h); // 0-2
    assert.equal(h.broker.committed(GROUP, IN, P), null);
    await poll(h); // 3 fills the transaction; 4-5 open the next one
    assert.deepEqual(commitsSince(h, start), { commits: 1, offsets: [4n] });
    assert.equal(h.broker.committed(GROUP, IN, P), 4n);
    await poll(h); // 6-8: 4-7 commit
    assert.deepEqual(commitsSince(h, start), { commits: 2, offsets: [4n, 8n] });
    await runToEnd(h);
    await h.task.close(true);
    await assertFinalOutcome(h);
  });

  void test(`commit interval${mode}: the first transaction holds at most maxRecordsUntilFirstCommit records, later ones maxRecordsPerTransaction`, async () => {
    const h = setup({
      processOnJoin,
      commitIntervalMs: 60_000,
      maxRecordsPerTransaction: 4,
      maxRecordsUntilFirstCommit: 2,
    });
    await poll(h); // assignment
    await poll(h); // 0-2: 0-1 fill the first transaction and commit; 2 opens the next one
    assert.deepEqual(commitsSince(h, 0), { commits: 1, offsets: [2n] });
    await poll(h); // 3-5: 2-5 fill the second transaction, of four
    assert.deepEqual(commitsSince(h, 0), { commits: 2, offsets: [2n, 6n] });
    assert.deepEqual(h.broker.journal.entry(P), {
      offset: 0n,
      attempts: 1,
      isolated: false,
      isolateUntil: 2n,
    });
    await runToEnd(h);
    await h.task.close(true);
    await assertFinalOutcome(h);
  });

  for (const failure of ['prepare', 'commit'] as const) {
    void test(`commit interval${mode}: a failure at ${failure} discards both batches' state and rewinds to the last commit`, async () => {
      const h = setup({ processOnJoin, commitIntervalMs: 1000 });
      await poll(h);
      await poll(h); // 0-2 pending
      h.clock.value += 1000;
      await poll(h); // 3-5 join; 0-5 commit
      assert.equal(h.broker.committed(GROUP, IN, P), 6n);
      const changelogBefore = h.broker.records(CHANGELOG, P).length;
      const rollupsBefore = rollupKeys(h.broker);
      await poll(h); // 6-8 pending
      if (failure === 'prepare')
        h.decoder.failPrepare(1, () => new RegistryUnavailableError('registry answered 503'));
      else h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'injected at commit'));
      h.clock.value += 1000;
      const start = h.broker.log.length;
      await poll(h); // 9-11 join, and the transaction of 6-11 fails
      assert.equal(h.aborted.length, 1);
      assert.equal(h.broker.committed(GROUP, IN, P), 6n);
      assert.deepEqual(rollupKeys(h.broker), rollupsBefore);
      assert.equal(h.broker.records(CHANGELOG, P).length, changelogBefore);
      assert.deepEqual(taskState(h.task), changelogState(h.broker));
      const seek = indexOf(h.broker.log, (e) => e.step === 'seek', start);
      assert.ok(seek >= 0, 'rewound');
      assert.equal(h.broker.log[seek]?.offset, 6n);
      assert.equal(h.consumer.positions.get(P), 6n);
      await drainOnTheInterval(h, 1000);
      await h.task.close(true);
      await assertFinalOutcome(h);
    });
  }

  void test(
    `commit interval${mode}: a batch fetched while a commit runs is added without waiting for it, and the next commit covers it`,
    { timeout: 10_000 },
    async () => {
      const release = manualRelease();
      const h = setup({ processOnJoin, commitIntervalMs: 1000, faults: 'before-commit@1:hold', release });
      await poll(h); // assignment
      await poll(h); // 0-2 pending
      h.clock.value += 1000;
      await handOver(h, 3, 6); // 3-5 join; the commit of 0-5 is queued, and held before its EndTxn
      await eventually('the commit of 0-5 is held', () => release.waiting === 1);
      const during = await handOver(h, 6, 9);
      assert.deepEqual(during.resolved, [8n], 'kafkajs may fetch on past 6-8');
      assert.equal(h.broker.committed(GROUP, IN, P), null, 'the commit of 0-5 is still held');
      assert.equal(release.waiting, 1);
      const again = await handOver(h, 3, 9);
      // Handed over again (a rejoin): taken by the held commit or waiting, none is added twice (the final outcome
      // shows it); kafkajs is told to fetch on from the end of what waits.
      assert.deepEqual(again.resolved, [8n]);
      const released = h.broker.log.length;
      release.release();
      await h.task.settled();
      assert.equal(h.broker.committed(GROUP, IN, P), 6n);
      if (processOnJoin) {
        // Kept while the commit ran (its state was not applied yet), processed as soon as it was.
        const steps = stepsOf(h.broker.log, released).filter((step) => step === 'decode' || step === 'begin');
        assert.deepEqual(steps, ['decode', 'decode', 'decode'], '6-8 processed after the commit, none begun');
      }
      h.clock.value += 1000;
      h.consumer.positions.set(P, 9n);
      await drainOnTheInterval(h, 1000);
      await h.task.close(true);
      assert.deepEqual(commitsSince(h, 0).offsets, [6n, 12n]);
      assert.deepEqual(h.aborted, [], 'no transaction failed');
      await assertFinalOutcome(h);
    },
  );

  void test(
    `commit interval${mode}: when the commit running fails, the records added meanwhile are dropped unprocessed and fetched again from the last commit`,
    { timeout: 10_000 },
    async () => {
      const release = manualRelease();
      const h = setup({ processOnJoin, commitIntervalMs: 1000, faults: 'before-commit@2:hold', release });
      await poll(h); // assignment
      await poll(h); // 0-2 pending
      h.clock.value += 1000;
      await poll(h); // 3-5 join; 0-5 commit
      assert.equal(h.broker.committed(GROUP, IN, P), 6n);
      const changelogBefore = h.broker.records(CHANGELOG, P).length;
      h.broker.failAt('commit', 1, () => new RetriableError('KAFKA_RETRIABLE', 'injected at commit'));
      await handOver(h, 6, 8);
      h.clock.value += 1000;
      await handOver(h, 8, 9); // 6-8 due: their commit is queued and held
      await eventually('the commit of 6-8 is held', () => release.waiting === 1);
      await handOver(h, 9, 12); // added while it is held
      const seeksBefore = h.consumer.seeks;
      release.release();
      await h.task.settled();
      assert.equal(h.broker.committed(GROUP, IN, P), 6n, 'the commit of 6-8 failed');
      assert.equal(h.aborted.length, 1);
      assert.equal(h.broker.records(CHANGELOG, P).length, changelogBefore, 'nothing of 6-11 was written');
      assert.deepEqual(taskState(h.task), changelogState(h.broker), 'nothing of 9-11 was processed');
      assert.ok(h.consumer.seeks > seeksBefore, 'rewound');
      assert.equal(h.consumer.positions.get(P), 6n);
      await drainOnTheInterval(h, 1000);
      await h.task.close(true);
      await assertFinalOutcome(h);
    },
  );

  void test(`commit interval${mode}: a record failing in the second batch of a transaction is retried and dead-lettered once`, async () => {
    const h = setup({
      processOnJoin,
      commitIntervalMs: 1000,
      faults: 'process-record@o4:throw',
      threshold: 10,
    });
    await poll(h);
    await poll(h); // 0-2 pending
    h.clock.value += 1000;
    await poll(h); // 3-5 join; processing 4 throws: 0-5 discarded
    assert.equal(h.broker.committed(GROUP, IN, P), null);
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
    await drainOnTheInterval(h, 1000);
    await h.task.close(true);
    const dead = h.broker
      .records(DLQ)
      .filter((r) => headerText(r, DLQ_HEADERS.reason) === 'processing-failed');
    assert.deepEqual(
      dead.map((r) => headerText(r, DLQ_HEADERS.offset)),
      ['4'],
    );
    assertNoDuplicateRollups(h.broker);
    assert.equal(h.broker.committed(GROUP, IN, P), 12n);
    assert.deepEqual(taskState(h.task), changelogState(h.broker));
  });

  void test(`commit interval${mode}: a clean close commits the pending transaction`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 60_000 });
    await runToEnd(h);
    assert.equal(h.broker.committed(GROUP, IN, P), null, 'all 12 records pending');
    await h.task.close(true);
    assert.equal(h.broker.log.filter((e) => e.step === 'commit').length, 1);
    await assertFinalOutcome(h);
  });

  void test(`commit interval${mode}: a revoked partition drops its pending records, and the next owner processes them once`, async () => {
    const h = setup({ processOnJoin, commitIntervalMs: 60_000 });
    await poll(h);
    await poll(h); // 0-2 pending
    h.clock.value += 60_000;
    await poll(h); // 3-5 join; 0-5 commit
    await poll(h); // 6-8 pending
    await h.task.close(true, false);
    assert.equal(h.broker.committed(GROUP, IN, P), 6n);
    assert.equal(h.broker.log.filter((e) => e.step === 'commit').length, 1, 'nothing more committed');
    const next = setup({
      processOnJoin,
      commitIntervalMs: 60_000,
      broker: h.broker,
      instanceId: 'instance-2',
    });
    next.consumer.positions.set(P, 9n); // where the revoked owner's fetches had got to
    await runToEnd(next);
    await next.task.close(true);
    await assertFinalOutcome(next);
  });
}

/** The log entries since `start` that are decodes or a transaction's begin, in order. */
function decodesAndBegins(h: Harness, start: number): string[] {
  return stepsOf(h.broker.log, start).filter((step) => step === 'decode' || step === 'begin');
}

void test('commit interval (records processed as they join): the first transaction of a task is processed after its attempt is journaled; later records as they join, before their transaction begins', async () => {
  const h = setup({ processOnJoin: true, commitIntervalMs: 1000 });
  await poll(h); // assignment
  const start = h.broker.log.length;
  await poll(h); // 0-2: the task's first transaction, not journaled yet
  assert.deepEqual(decodesAndBegins(h, start), [], 'nothing processed before the attempt is journaled');
  h.clock.value += 1000;
  await poll(h); // 3-5 join; 0-5 commit
  const journaled = indexOf(h.broker.log, (e) => e.step === 'journalWrite', start);
  const firstDecode = indexOf(h.broker.log, (e) => e.step === 'decode', start);
  assert.ok(journaled >= 0 && journaled < firstDecode, stepsOf(h.broker.log, start).join());
  const afterFirst = h.broker.log.length;
  await poll(h); // 6-8 join: processed at once
  assert.deepEqual(decodesAndBegins(h, afterFirst), ['decode', 'decode', 'decode']);
  assert.deepEqual(taskState(h.task), changelogState(h.broker), 'processed, not applied before the commit');
  h.clock.value += 1000;
  const beforeCommit = h.broker.log.length;
  await poll(h); // 9-11 join, processed; 6-11 commit
  assert.deepEqual(decodesAndBegins(h, beforeCommit), ['decode', 'decode', 'decode', 'begin']);
  assert.deepEqual(commitsSince(h, start).offsets, [6n, 12n]);
  await h.task.close(true);
  await assertFinalOutcome(h);
});

void test('commit interval (records processed as they join): a record whose processing throws as it joins fails its transaction before it begins, and is dead-lettered once', async () => {
  const h = setup({
    processOnJoin: true,
    commitIntervalMs: 1000,
    faults: 'process-record@o7:throw',
    threshold: 10,
  });
  await poll(h); // assignment
  await poll(h); // 0-2
  h.clock.value += 1000;
  await poll(h); // 3-5 join; 0-5 commit
  assert.equal(h.broker.committed(GROUP, IN, P), 6n);
  const begins = h.broker.log.filter((e) => e.step === 'begin').length;
  await poll(h); // 6-8 join: 7 throws as it is processed, and the range fails at once
  assert.equal(h.aborted.length, 1);
  assert.equal(h.aborted[0]?.code, 'RECORD_PROCESSING_FAILED');
  assert.equal(h.broker.log.filter((e) => e.step === 'begin').length, begins, 'nothing begun for it');
  assert.equal(h.consumer.positions.get(P), 6n, 'rewound to the last commit');
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
  await drainOnTheInterval(h, 1000);
  await h.task.close(true);
  const dead = h.broker.records(DLQ).filter((r) => headerText(r, DLQ_HEADERS.reason) === 'processing-failed');
  assert.deepEqual(
    dead.map((r) => headerText(r, DLQ_HEADERS.offset)),
    ['7'],
  );
  assertNoDuplicateRollups(h.broker);
  assert.equal(h.broker.committed(GROUP, IN, P), 12n);
  assert.deepEqual(taskState(h.task), changelogState(h.broker));
});

/** Hands the task input records [from, to) as a batch that ends at the partition's high watermark. */
async function handOverAtEnd(h: Harness, from: number, to: number): Promise<void> {
  const control = new FakeBatchControl(h.broker, () => true);
  await h.task.handleBatch({ ...batchOf(IN, P, h.input.slice(from, to)), atEnd: true }, control);
  await h.task.settled();
}

for (const atEnd of [true, false]) {
  void test(`commit interval (records processed as they join): a closed window in a batch ${atEnd ? 'at' : 'short of'} the partition's end is committed ${atEnd ? 'at once' : 'on the interval'}; state alone waits either way`, async () => {
    const h = setup({ processOnJoin: true, commitIntervalMs: 60_000 });
    await poll(h); // assignment
    await poll(h); // 0-2: the first transaction
    h.clock.value += 60_000;
    await poll(h); // 3-5 join; 0-5 commit
    assert.equal(h.broker.committed(GROUP, IN, P), 6n);
    const hand = atEnd
      ? handOverAtEnd
      : async (x: Harness, from: number, to: number) => {
          await handOver(x, from, to);
          await x.task.settled();
        };
    await hand(h, 6, 8); // 6-7: no window closes
    assert.equal(h.broker.committed(GROUP, IN, P), 6n, 'state alone waits for the interval');
    await hand(h, 8, 9); // 8 closes W1
    assert.equal(h.broker.committed(GROUP, IN, P), atEnd ? 9n : 6n);
    h.clock.value += 60_000;
    h.consumer.positions.set(P, 9n);
    await drainOnTheInterval(h, 60_000);
    await h.task.close(true);
    await assertFinalOutcome(h);
  });
}
