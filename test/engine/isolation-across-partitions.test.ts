/**
 * Two partitions' tasks of one process share the processing-attempts journal and the isolation gate. Partition 1's
 * task is held right after journaling an isolated record; while that attempt stands, a record partition 0 processed
 * and died of would count as a crash of partition 1's record (design §15). The judge is the journal itself, read at
 * the moment partition 0's decoder sees a record. Negative control: with the open gate the judge catches partition
 * 0 processing while partition 1's isolated attempt stands.
 */
import assert from 'node:assert/strict';
import { rollupProcessors } from './rollup-fixture.js';
import { Buffer } from 'node:buffer';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';

import type { HostInfo } from '../../src/domain/metric.js';
import type { DecodedInput } from '../../src/domain/process-record.js';
import { CRASHES_BEFORE_ISOLATION } from '../../src/engine/attempt-policy.js';
import { CommitLedger } from '../../src/engine/commit-ledger.js';
import { FaultInjector, parseFaultSpecs } from '../../src/engine/faults.js';
import { OPEN_GATE, ProcessIsolationGate, type IsolationGate } from '../../src/engine/isolation-gate.js';
import type { InputMessage } from '../../src/engine/ports.js';
import { PartitionTask, type TaskDependencies } from '../../src/engine/task.js';
import { StageEvents } from '../../src/observability/events.js';
import {
  FakeBatchControl,
  FakeBroker,
  FakeConsumer,
  FakeDecoder,
  T0,
  batchOf,
  manualRelease,
  message,
  metricValue,
  silentLogger,
} from './fakes.js';

const GROUP = 'eos-rollup-test';
const IN = 'server-metrics';
const INVENTORY = new Map<string, HostInfo>([
  ['a', { host: 'a', region: 'eu-west', datacenter: 'dub-1', role: 'web' }],
]);
const INPUT: InputMessage[] = [0, 1, 2].map((o) => message(o, metricValue('a', T0 + o * 1000, 10 + o)));

function task(
  partition: number,
  broker: FakeBroker,
  gate: IsolationGate,
  faults: FaultInjector,
  onDecode: () => void,
): PartitionTask {
  const fakeDecoder = new FakeDecoder(broker);
  const deps: TaskDependencies = {
    groupId: GROUP,
    incarnation: 'instance-1.t1',
    stage: { id: 'eos-rollup-test-stage', version: '9.9.9-test' },
    topics: { input: IN, output: 'out', dlq: 'dlq', changelog: `${GROUP}-changelog`, dlqPartitions: 2 },
    processor: rollupProcessors({
      windows: { sizeMs: 60_000, graceMs: 10_000 },
      decoder: {
        prepare: (values) => fakeDecoder.prepare(values),
        decode: (value): DecodedInput => {
          onDecode();
          return fakeDecoder.decode(value);
        },
      },
      encodeRollup: (rollup) => Buffer.from(JSON.stringify(rollup), 'utf8'),
      lookupHost: (host) => INVENTORY.get(host),
    }),
    maxRecordsPerTransaction: 1000,
    retry: { initialBackoffMs: 100, maxBackoffMs: 1000 },
    breaker: { threshold: 100, probeIntervalMs: 60_000 },
    kafka: broker,
    journal: broker.journal,
    consumer: new FakeConsumer(broker),
    outputPartition: () => 0,
    events: new StageEvents(),
    faults,
    logger: silentLogger,
    now: () => Date.now(),
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    idleFlushMs: 0,
    commitLedger: new CommitLedger(),
    isolationGate: gate,
    onFatal: (error) => {
      throw error;
    },
  };
  return new PartitionTask(partition, deps);
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i += 1) {
    if (condition()) return;
    await tick();
  }
  assert.fail(`never: ${what}`);
}

/** Records partition 0 decoded while partition 1's isolated attempt stood in the journal. */
async function decodedWhileOtherStood(gate: IsolationGate): Promise<number> {
  const broker = new FakeBroker();
  // Both partitions' last attempts at offset 0 died, as many as isolation takes: both isolate from there.
  for (const partition of [0, 1]) {
    await broker.journal.write(partition, {
      entry: { offset: 0n, attempts: CRASHES_BEFORE_ISOLATION, isolated: false, isolateUntil: 3n },
      stamp: { owner: 'an-earlier-process', seq: 1 },
    });
  }
  const hold = manualRelease();
  const faults = new FaultInjector(
    parseFaultSpecs('after-arm@1/p1:hold'),
    () => undefined,
    Math.random,
    hold,
  );
  const standing = () => {
    const entry = broker.journal.entry(1);
    return entry?.isolated === true && entry.attempts > 0;
  };
  let whileStanding = 0;
  const tasks = [0, 1].map((p) =>
    task(p, broker, gate, faults, () => {
      if (p === 0 && standing()) whileStanding += 1;
    }),
  );
  const [task0, task1] = tasks as [PartitionTask, PartitionTask];
  // The first batch after assignment runs the assignment steps and is dropped.
  await task0.handleBatch(batchOf(IN, 0, INPUT), new FakeBatchControl(broker));
  await task1.handleBatch(batchOf(IN, 1, INPUT), new FakeBatchControl(broker));

  const second = task1.handleBatch(batchOf(IN, 1, INPUT), new FakeBatchControl(broker));
  await until("partition 1's isolated attempt is journaled", standing);
  const first = task0.handleBatch(batchOf(IN, 0, INPUT), new FakeBatchControl(broker));
  for (let i = 0; i < 50; i += 1) await tick();
  hold.release();
  await Promise.all([first, second]);
  await until('partition 0 committed its first record', () => broker.committed(GROUP, IN, 0) !== null);
  return whileStanding;
}

test("while partition 1's isolated record stands in the journal, partition 0 processes nothing", async () => {
  assert.equal(await decodedWhileOtherStood(new ProcessIsolationGate()), 0);
});

test('negative control: with the open gate, partition 0 processes while the other isolated record stands', async () => {
  assert.ok((await decodedWhileOtherStood(OPEN_GATE)) > 0);
});
