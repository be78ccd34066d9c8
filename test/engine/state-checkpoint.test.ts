/**
 * The local state checkpoint (STATE_DIR) without Kafka: the file's round trip and every reason it is refused,
 * the atomic write, the stores' export, and the task's part against the fake broker: written at a clean close
 * of a running task (and, with an interval, after its restore and its commits), taken at initialization, and a
 * restore from it equal to a full restore.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';

import { CommitLedger } from '../../src/engine/commit-ledger.js';
import { FaultInjector } from '../../src/engine/faults.js';
import { ProcessIsolationGate } from '../../src/engine/isolation-gate.js';
import { KeyValueStore } from '../../src/engine/key-value-store.js';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import type { InputMessage } from '../../src/engine/ports.js';
import { STRING_SERDE } from '../../src/engine/serde.js';
import {
  checkpointPath,
  decodeCheckpoint,
  encodeCheckpoint,
  fingerprintOf,
  MAX_CHECKPOINT_AGE_MS,
  maxCheckpointAgeMs,
  outsideTheLog,
  takeCheckpoint,
  writeAtomically,
  type Checkpoint,
  type CheckpointFiles,
  NODE_FILES,
} from '../../src/engine/state-checkpoint.js';
import { PartitionTask, type TaskDependencies } from '../../src/engine/task.js';
import { RetriableError } from '../../src/errors/errors.js';
import { StageEvents, type StageEventMap } from '../../src/observability/events.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { rollupOn, rollupProcessors } from './rollup-fixture.js';
import {
  FakeBatchControl,
  FakeBroker,
  FakeConsumer,
  FakeDecoder,
  T0,
  batchOf,
  eventually,
  message,
  metricValue,
} from './fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-checkpoint-test-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
let dirs = 0;
const freshDir = () => {
  dirs += 1;
  return join(dir, `d${dirs}`);
};

const ID = { appId: 'app', changelog: 'app-rollup-state-changelog', partition: 3 };
const NOW = Date.UTC(2026, 11, 5, 12);

function sample(): Checkpoint {
  return {
    ...ID,
    offset: 42n,
    writtenAtMs: NOW,
    fingerprint: fingerprintOf({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      attempt: 'a/1',
      offset: 40n,
    }),
    entries: [
      { key: Buffer.from('k'), value: Buffer.from('v') },
      { key: Buffer.from([0, 255]), value: Buffer.alloc(0) },
    ],
  };
}

function writeRaw(path: string, text: string): void {
  writeFileSync(path, text);
}

void test('a checkpoint file round-trips: identity, offset, fingerprint and every entry byte for byte', () => {
  const c = sample();
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(c)), c);
});

void test('the fingerprint depends on the offset, the key, the value and the transactional attempt', () => {
  const base = { key: Buffer.from('k'), value: Buffer.from('v'), attempt: 'a/1', offset: 40n };
  const hash = fingerprintOf(base).hash;
  assert.notEqual(fingerprintOf({ ...base, attempt: 'a/2' }).hash, hash, 'a recreated topic’s twin record');
  assert.notEqual(fingerprintOf({ ...base, value: Buffer.from('w') }).hash, hash);
  assert.notEqual(fingerprintOf({ ...base, value: null }).hash, hash);
  assert.notEqual(fingerprintOf({ ...base, key: Buffer.from('kv'), value: Buffer.alloc(0) }).hash, hash);
  assert.equal(fingerprintOf({ ...base, offset: 41n }).offset, 41n);
});

void test('taking a checkpoint deletes it whatever it holds, and says why it is refused: missing, other app, too old, unreadable', async () => {
  const d = freshDir();
  const path = checkpointPath(d, ID);
  assert.equal(path, join(d, 'app', 'app-rollup-state-changelog-3.checkpoint'));
  const missing = await takeCheckpoint(path, ID, NOW);
  assert.equal(missing.kind === 'refused' && missing.reason, 'missing');

  await writeAtomically(path, encodeCheckpoint(sample()));
  const found = await takeCheckpoint(path, ID, NOW);
  assert.equal(found.kind, 'found');
  assert.ok(!existsSync(path), 'deleted once taken');

  for (const other of [{ appId: 'other' }, { changelog: 'x' }, { partition: 4 }]) {
    await writeAtomically(path, encodeCheckpoint({ ...sample(), ...other }));
    const refused = await takeCheckpoint(path, ID, NOW);
    assert.equal(refused.kind === 'refused' && refused.reason, 'other app', JSON.stringify(other));
    assert.ok(!existsSync(path));
  }

  await writeAtomically(
    path,
    encodeCheckpoint({ ...sample(), writtenAtMs: NOW - MAX_CHECKPOINT_AGE_MS - 1 }),
  );
  const old = await takeCheckpoint(path, ID, NOW);
  assert.equal(old.kind === 'refused' && old.reason, 'too old');
  assert.ok(!existsSync(path));
  await writeAtomically(path, encodeCheckpoint({ ...sample(), writtenAtMs: NOW - MAX_CHECKPOINT_AGE_MS }));
  assert.equal((await takeCheckpoint(path, ID, NOW)).kind, 'found', 'as old as the bound: still trusted');
  // The changelog as the stage creates it keeps tombstones 15 minutes: 7.5 minutes are trusted.
  await writeAtomically(path, encodeCheckpoint({ ...sample(), writtenAtMs: NOW - 10 * 60_000 }));
  const stale = await takeCheckpoint(path, ID, NOW, maxCheckpointAgeMs(900_000));
  assert.equal(stale.kind === 'refused' && stale.reason, 'too old');

  const good = JSON.parse(encodeCheckpoint(sample()).toString('utf8')) as Record<string, unknown>;
  const unreadable = [
    '{"version":1,',
    JSON.stringify({ ...good, version: 1 }),
    JSON.stringify({ ...good, writtenAtMs: '1' }),
    JSON.stringify({ ...good, offset: '-1' }),
    JSON.stringify({ ...good, fingerprint: { offset: '1', hash: 'short' } }),
    JSON.stringify({ ...good, entries: [['a2V5', null]] }),
    JSON.stringify({ ...good, entries: [['not base64!', 'dg==']] }),
  ];
  for (const text of unreadable) {
    writeRaw(path, text);
    const refused = await takeCheckpoint(path, ID, NOW);
    assert.equal(refused.kind === 'refused' && refused.reason, 'unreadable', text);
    assert.ok(!existsSync(path));
  }
});

void test('a checkpoint is outside the log unless its fingerprint record is at or after the log start and its offset at or before the stable end', () => {
  const c = sample(); // fingerprint at 40, offset 42
  assert.equal(outsideTheLog(c, { start: 0n, end: 42n }), null);
  assert.equal(outsideTheLog(c, { start: 40n, end: 100n }), null);
  assert.match(outsideTheLog(c, { start: 41n, end: 100n }) ?? '', /not within/, 'compacted or deleted away');
  assert.match(outsideTheLog(c, { start: 0n, end: 41n }) ?? '', /not within/, 'a truncated or new log');
});

void test('an atomic write that fails halfway leaves neither a partial checkpoint nor its temp file', async () => {
  const d = freshDir();
  const path = checkpointPath(d, ID);
  const halfWrite: CheckpointFiles = {
    ...NODE_FILES,
    async writeSynced(temp, bytes) {
      await NODE_FILES.writeSynced(temp, bytes.subarray(0, 10));
      throw new Error('ENOSPC: no space left on device');
    },
  };
  await assert.rejects(writeAtomically(path, encodeCheckpoint(sample()), halfWrite), /ENOSPC/);
  assert.deepEqual(readdirSync(join(d, 'app')), []);

  const failedRename: CheckpointFiles = {
    ...NODE_FILES,
    rename: () => Promise.reject(new Error('EIO: rename failed')),
  };
  await assert.rejects(writeAtomically(path, encodeCheckpoint(sample()), failedRename), /EIO/);
  assert.deepEqual(readdirSync(join(d, 'app')), []);

  await writeAtomically(path, encodeCheckpoint(sample()));
  assert.deepEqual(readdirSync(join(d, 'app')), ['app-rollup-state-changelog-3.checkpoint']);
  assert.deepEqual(decodeCheckpoint(readFileSync(path)), sample());
});

void test('the key-value store exports its committed state as the changelog records that rebuild it', () => {
  const s = new KeyValueStore({ key: STRING_SERDE, value: STRING_SERDE });
  const tx = s.begin();
  tx.put('a', '1');
  tx.put('b', '2');
  tx.advanceStreamTime(500);
  tx.apply();
  const second = s.begin();
  second.delete('a');
  second.put('c', '3');
  second.apply();
  const open = s.begin();
  open.put('uncommitted', 'x');
  const exported = s.exportChangelog();
  open.discard();
  assert.ok(
    exported.every((e) => e.value !== null),
    'no tombstones',
  );
  const rebuilt = new KeyValueStore({ key: STRING_SERDE, value: STRING_SERDE });
  for (const e of exported) rebuilt.restore(e.key, e.value);
  assert.equal(rebuilt.size, 2);
  assert.equal(rebuilt.get('b'), '2');
  assert.equal(rebuilt.get('c'), '3');
  assert.equal(rebuilt.get('a'), undefined);
  assert.equal(rebuilt.get('uncommitted'), undefined);
  assert.equal(rebuilt.streamTimeMs, 500);
});

// ---- the task ----

const GROUP = 'app';
const IN = 'server-metrics';
const CHANGELOG = `${GROUP}-rollup-state-changelog`;
const P = 3;
const s = (seconds: number) => T0 + seconds * 1000;
const INPUT: InputMessage[] = [
  message(0, metricValue('a', s(1), 10)),
  message(1, metricValue('b', s(2), 20)),
  message(2, metricValue('a', s(30), 30)),
  message(3, metricValue('b', s(61), 40)),
  message(4, metricValue('a', s(75), 50)), // closes the first window
  message(5, metricValue('a', s(80), 60)),
  message(6, metricValue('b', s(95), 70)),
  message(7, metricValue('a', s(150), 80)), // closes the second window
  message(8, metricValue('b', s(155), 90)),
];

interface TaskRun {
  task: PartitionTask;
  store: WindowStore;
  consumer: FakeConsumer;
  lines: { msg: string; reason?: string }[];
  restored: StageEventMap['task.restored'][];
}

/** Periodic checkpoints: at most one per `intervalMs` of `clock.ms` (the task's clock). */
interface Periodic {
  intervalMs: number;
  clock: { ms: number };
}

function taskOn(
  broker: FakeBroker,
  stateDir: string | undefined,
  instance: string,
  periodic?: Periodic,
): TaskRun {
  const lines: TaskRun['lines'] = [];
  const logger = pino(
    // debug: the background checkpoint write says when it has settled (see checkpointsWritten).
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as TaskRun['lines'][number]) },
  );
  const events = new StageEvents();
  const restored: TaskRun['restored'] = [];
  events.on('task.restored', (e) => restored.push(e));
  const store = new WindowStore();
  const settings = {
    windows: { sizeMs: 60_000, graceMs: 10_000 },
    decoder: new FakeDecoder(broker),
    encodeRollup: (rollup: unknown) => Buffer.from(JSON.stringify(rollup), 'utf8'),
    lookupHost: () => undefined,
  };
  const consumer = new FakeConsumer(broker);
  const deps: TaskDependencies = {
    groupId: GROUP,
    incarnation: instance,
    stage: { id: 'test', version: '0' },
    topics: { input: IN, output: 'out', dlq: 'dlq', changelog: CHANGELOG, dlqPartitions: 1 },
    maxRecordsPerTransaction: 2,
    retry: { initialBackoffMs: 1, maxBackoffMs: 1 },
    breaker: { threshold: 100, probeIntervalMs: 60_000 },
    kafka: broker,
    journal: broker.journal,
    consumer,
    processor: (partition) =>
      partition === P ? rollupOn(store, settings) : rollupProcessors(settings)(partition),
    outputPartition: () => 0,
    events,
    faults: new FaultInjector([]),
    logger,
    now: () => periodic?.clock.ms ?? 0,
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    idleFlushMs: 0,
    commitLedger: new CommitLedger(),
    isolationGate: new ProcessIsolationGate(),
    stateDir,
    checkpointIntervalMs: periodic?.intervalMs,
    onFatal: (error) => {
      throw error;
    },
  };
  return { task: new PartitionTask(P, deps), store, consumer, lines, restored };
}

/** Feeds the input from the consumer's position up to `until` (exclusive), one batch of two at a time. */
async function feed(run: TaskRun, broker: FakeBroker, until: number): Promise<void> {
  await run.task.start();
  for (let i = 0; i < 20; i += 1) {
    const position = run.consumer.positions.get(P) ?? 0n;
    const messages = INPUT.filter((m) => m.offset >= position && m.offset < BigInt(until)).slice(0, 2);
    if (messages.length === 0) return;
    const control = new FakeBatchControl(broker, () => true);
    await run.task.handleBatch(batchOf(IN, P, messages), control);
    const resolved = control.resolved[control.resolved.length - 1];
    if (resolved !== undefined) run.consumer.positions.set(P, resolved + 1n);
  }
}

const fullRestoreOf = (broker: FakeBroker) => {
  const store = new WindowStore();
  for (const r of broker.records(CHANGELOG, P)) store.restore(r.key ?? Buffer.alloc(0), r.value);
  return store.exportChangelog();
};

/** A new task on `stateDir` that loads its checkpoint, reads exactly `tail` changelog records, and holds the state a full restore gives. */
async function startFromCheckpoint(broker: FakeBroker, stateDir: string, tail: number): Promise<TaskRun> {
  const run = taskOn(broker, stateDir, 'from-checkpoint');
  await run.task.start();
  assert.deepEqual(
    run.restored.map((r) => ({ records: r.records, fromCheckpoint: (r.fromCheckpoint ?? 0) > 0 })),
    [{ records: tail, fromCheckpoint: true }],
  );
  assert.deepEqual(run.store.exportChangelog(), fullRestoreOf(broker));
  return run;
}

void test('a clean close after commits writes a checkpoint; the next task takes it at initialization, reads only the tail and holds the state a full restore gives', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const one = taskOn(broker, stateDir, 'one');
  await feed(one, broker, 6);
  assert.ok(!existsSync(path), 'nothing is written while the task runs');
  await one.task.close(true);
  assert.ok(existsSync(path), 'written at the clean close');
  const changelogRecords = broker.records(CHANGELOG, P).length;
  assert.ok(changelogRecords > 5);

  const two = taskOn(broker, stateDir, 'two');
  await two.task.start();
  assert.ok(!existsSync(path), 'taken (deleted) at initialization, before any record is processed');
  assert.deepEqual(
    two.restored.map((r) => ({ records: r.records, fromCheckpoint: r.fromCheckpoint })),
    [{ records: 0, fromCheckpoint: one.store.exportChangelog().length }],
  );
  assert.deepEqual(two.store.exportChangelog(), fullRestoreOf(broker));
  // A process that dies now (no clean close) leaves nothing behind.
  await two.task.close(false);
  assert.ok(!existsSync(path), 'an unclean close writes nothing');
});

void test('another owner in between: the snapshot plus the changelog after it is the current state (latest wins)', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const one = taskOn(broker, stateDir, 'one');
  await feed(one, broker, 4);
  await one.task.close(true);
  const before = broker.records(CHANGELOG, P).length;
  // Another instance, without this STATE_DIR, owns the partition for a while and commits more.
  const other = taskOn(broker, undefined, 'other');
  await feed(other, broker, 8);
  await other.task.close(true);
  const tail = broker.records(CHANGELOG, P).length - before;
  assert.ok(tail > 0);

  // Only what the other owner wrote is read; the rest comes from the checkpoint.
  const three = await startFromCheckpoint(broker, stateDir, tail);
  await feed(three, broker, 9);
  await three.task.close(true);
});

void test('no checkpoint after a failed transaction: the task is not running, its state not known committed', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const one = taskOn(broker, stateDir, 'one');
  await feed(one, broker, 4);
  broker.failAt('commit', 1, () => new RetriableError('REQUEST_TIMED_OUT', 'commit timed out'));
  await one.task.handleBatch(batchOf(IN, P, INPUT.slice(4, 6)), new FakeBatchControl(broker, () => true));
  assert.equal(one.task.isRunning, false);
  await one.task.close(true);
  assert.ok(!existsSync(path));
});

void test('no checkpoint when another writer committed to the changelog after this task’s last commit', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const one = taskOn(broker, stateDir, 'one');
  await feed(one, broker, 6);
  // A newer owner (this task a zombie that has not noticed yet) wrote a state change.
  broker.seedCommit(GROUP, { topic: IN, partition: P, offset: 6n }, [
    {
      topic: CHANGELOG,
      partition: P,
      key: Buffer.from('["t"]'),
      value: Buffer.from(String(s(999))),
      headers: { [LINEAGE_HEADERS.attempt]: 'newer-owner/p3/1' },
    },
  ]);
  await one.task.close(true);
  assert.ok(!existsSync(path));
  assert.ok(one.lines.some((l) => /no state checkpoint written: .*not this task's state/.test(l.msg)));
});

void test('a checkpoint refused at initialization (fingerprint differs, offset outside the log) costs a full restore with the reason logged', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const one = taskOn(broker, stateDir, 'one');
  await feed(one, broker, 6);
  const changelogRecords = broker.records(CHANGELOG, P).length;
  const cases: [string, (c: Checkpoint) => Checkpoint][] = [
    ['fingerprint differs', (c) => ({ ...c, fingerprint: { ...c.fingerprint, hash: 'f'.repeat(64) } })],
    ['offset outside the log', (c) => ({ ...c, offset: c.offset + 1000n })],
  ];
  for (const [reason, doctor] of cases) {
    await one.task.close(true);
    const written = decodeCheckpoint(readFileSync(path));
    // A snapshot that would be wrong if it were used.
    const wrong = { ...written, entries: written.entries.slice(1) };
    writeFileSync(path, encodeCheckpoint(doctor(wrong)));
    const next = taskOn(broker, stateDir, reason);
    await next.task.start();
    assert.ok(
      next.lines.some((l) => l.reason === reason),
      next.lines.map((l) => l.msg).join('\n'),
    );
    assert.deepEqual(
      next.restored.map((r) => ({ records: r.records, fromCheckpoint: r.fromCheckpoint })),
      [{ records: changelogRecords, fromCheckpoint: 0 }],
    );
    assert.deepEqual(next.store.exportChangelog(), fullRestoreOf(broker));
    assert.ok(!existsSync(path));
    one.task = next.task;
  }
});

const offsetIn = (path: string) => decodeCheckpoint(readFileSync(path)).offset;

/**
 * Background checkpoint writes a task has finished. The file appears on disk (rename) before the write's promise
 * settles in JS, and a commit in between finds a write in flight and skips its own; so a test waits for this
 * count, not for the file.
 */
const checkpointsWritten = (run: TaskRun) =>
  run.lines.filter((l) => l.msg === 'state checkpoint written').length;

void test('a running task writes a checkpoint after a commit at most once per interval; killed, its successor loads the last one, reads only the tail after it and holds the state a full restore gives', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const periodic = { intervalMs: 1000, clock: { ms: 0 } };
  const one = taskOn(broker, stateDir, 'one', periodic);
  await feed(one, broker, 2);
  await eventually('the first commit writes a checkpoint', () => checkpointsWritten(one) === 1);
  const first = offsetIn(path);
  assert.equal(first, BigInt(broker.records(CHANGELOG, P).length), 'it covers the whole changelog so far');

  periodic.clock.ms = 999;
  await feed(one, broker, 4);
  await one.task.close(false).then(
    () => undefined,
    () => undefined,
  );
  assert.equal(offsetIn(path), first, 'not again within the interval');
  assert.equal(checkpointsWritten(one), 1);

  const two = taskOn(broker, stateDir, 'two', periodic);
  periodic.clock.ms = 2000;
  await two.task.start();
  // The restore wrote one at once, covering what it read (taken, so the file is the restore's own).
  await eventually('the restore writes a checkpoint', () => checkpointsWritten(two) === 1);
  const restoredAt = offsetIn(path);
  assert.ok(restoredAt > first);
  assert.equal(restoredAt, BigInt(broker.records(CHANGELOG, P).length));
  periodic.clock.ms = 3000;
  await feed(two, broker, 8);
  await eventually('a later commit writes a later checkpoint', () => checkpointsWritten(two) === 2);
  assert.ok(offsetIn(path) > restoredAt);
  // Killed: no close. Its last checkpoint is all a successor finds.
  const killedAt = offsetIn(path);
  const tail = broker.records(CHANGELOG, P).filter((r) => r.offset >= killedAt).length;

  // Only the records after the checkpoint are read; the rest comes from the snapshot.
  const three = await startFromCheckpoint(broker, stateDir, tail);
  await feed(three, broker, 9);
  assert.deepEqual(three.store.exportChangelog(), fullRestoreOf(broker));
});

void test('negative control: a checkpoint written at an offset the broker misreported is refused at load (fingerprint differs), and the full restore gives the right state', async () => {
  const broker = new FakeBroker();
  broker.acknowledgeSkew = -1n;
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const one = taskOn(broker, stateDir, 'one', { intervalMs: 1000, clock: { ms: 0 } });
  await feed(one, broker, 6);
  await eventually('a checkpoint was written', () => checkpointsWritten(one) === 1);
  assert.ok(existsSync(path));
  const next = taskOn(broker, stateDir, 'next');
  await next.task.start();
  assert.ok(
    next.lines.some((l) => l.reason === 'fingerprint differs'),
    next.lines.map((l) => l.msg).join('\n'),
  );
  assert.deepEqual(
    next.restored.map((r) => ({ records: r.records, fromCheckpoint: r.fromCheckpoint })),
    [{ records: broker.records(CHANGELOG, P).length, fromCheckpoint: 0 }],
  );
  assert.deepEqual(next.store.exportChangelog(), fullRestoreOf(broker));
});

void test('a checkpoint is trusted for half the changelog’s delete.retention.ms, never more than 12 hours', () => {
  assert.equal(maxCheckpointAgeMs(900_000), 450_000);
  assert.equal(maxCheckpointAgeMs(86_400_000), MAX_CHECKPOINT_AGE_MS);
  assert.equal(maxCheckpointAgeMs(7 * 86_400_000), MAX_CHECKPOINT_AGE_MS);
  assert.equal(maxCheckpointAgeMs(undefined), MAX_CHECKPOINT_AGE_MS);
  assert.equal(maxCheckpointAgeMs(0), 0);
});

void test('a checkpoint whose export throws costs the checkpoint only: the task commits on, with a warning', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const periodic = { intervalMs: 1000, clock: { ms: 0 } };
  const one = taskOn(broker, stateDir, 'one', periodic);
  one.store.exportChangelog = () => {
    throw new RangeError('Invalid string length');
  };
  await feed(one, broker, 4);
  periodic.clock.ms = 5000;
  await feed(one, broker, 9);
  assert.equal(one.task.isRunning, true);
  assert.equal(broker.committed(GROUP, IN, P), 9n, 'every record committed once');
  assert.ok(!existsSync(path));
  assert.ok(one.lines.some((l) => l.msg === 'no state checkpoint written'));
});

void test('temp files a killed writer left behind are removed when the task takes its checkpoint; others stay', async () => {
  const broker = new FakeBroker();
  const stateDir = freshDir();
  const path = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P });
  const other = checkpointPath(stateDir, { appId: GROUP, changelog: CHANGELOG, partition: P + 1 });
  await writeAtomically(other, encodeCheckpoint(sample()));
  writeRaw(`${path}.0b5e-left-by-a-kill.tmp`, 'half a checkpoint');
  writeRaw(`${other}.1c6f-of-another-partition.tmp`, 'half a checkpoint');
  const one = taskOn(broker, stateDir, 'one');
  await one.task.start();
  assert.deepEqual(readdirSync(join(stateDir, GROUP)).sort(), [
    `${CHANGELOG}-${P + 1}.checkpoint`,
    `${CHANGELOG}-${P + 1}.checkpoint.1c6f-of-another-partition.tmp`,
  ]);
});
