/** The state restorer's assignment steps against the in-memory broker: fence, settle, restore, stable end. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';

import { CommitLedger } from '../../src/engine/commit-ledger.js';
import { FaultInjector } from '../../src/engine/faults.js';
import type { ProducerPort, TaskKafkaPort } from '../../src/engine/ports.js';
import type { StateRollbackPort } from '../../src/engine/state-rollback.js';
import { StateRestorer, type RestorerDependencies } from '../../src/engine/state-restorer.js';
import { StageEvents } from '../../src/observability/events.js';
import { encodeStreamTime, encodeStreamTimeKey } from '../../src/rollup/changelog-codec.js';
import { WindowStore } from '../../src/rollup/window-store.js';
import { FakeBroker, T0 } from './fakes.js';

const GROUP = 'g';
const P = 1;
const TOPICS = { input: 'in', changelog: 'cl' };

interface Setup {
  broker: FakeBroker;
  ledger: CommitLedger;
  store: WindowStore;
  restorer: StateRestorer;
  lines: Record<string, unknown>[];
  adopted: ProducerPort[];
}

function setup(
  options: { kafka?: TaskKafkaPort; rollback?: StateRollbackPort; waitMs?: number } = {},
): Setup {
  const broker = new FakeBroker();
  const ledger = new CommitLedger();
  const store = new WindowStore();
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  let clock = 0;
  const deps: RestorerDependencies = {
    groupId: GROUP,
    topics: TOPICS,
    kafka: options.kafka ?? broker,
    transactionalId: `${GROUP}-in-${P}`,
    commitLedger: ledger,
    stateRollback: options.rollback,
    events: new StageEvents(),
    faults: new FaultInjector([]),
    now: () => (clock += 1),
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
    restoreStableWaitMs: options.waitMs,
  };
  const restorer = new StateRestorer(P, deps, store, log, () => false);
  return { broker, ledger, store, restorer, lines, adopted: [] };
}

const initialize = (s: Setup) =>
  s.restorer.initialize(
    (producer) => s.adopted.push(producer),
    () => Promise.resolve(),
  );

const seedStreamTime = (s: Setup, offset: bigint, streamTimeMs: number) => {
  s.broker.seedCommit(GROUP, { topic: 'in', partition: P, offset }, [
    {
      topic: 'cl',
      partition: P,
      key: encodeStreamTimeKey(),
      value: encodeStreamTime(streamTimeMs),
      headers: {},
    },
  ]);
};

void test('the producer is adopted first, then the committed offset is the position and the changelog is the state', async () => {
  const s = setup();
  seedStreamTime(s, 6n, T0);
  const initialized = await initialize(s);
  assert.equal(s.adopted.length, 1);
  assert.equal(s.adopted[0]?.transactionalId, `${GROUP}-in-${P}`);
  assert.deepEqual(initialized.committedOffset, 6n);
  assert.equal(initialized.position, 6n);
  assert.equal(s.store.streamTimeMs, T0);
  const steps = s.broker.log.map((e) => e.step);
  assert.ok(steps.indexOf('init') < steps.indexOf('committedOffset'), steps.join());
  assert.ok(steps.indexOf('committedOffset') < steps.indexOf('readChangelog'), steps.join());
});

void test('without a committed offset, processing starts at the partition’s start', async () => {
  const s = setup();
  const initialized = await initialize(s);
  assert.equal(initialized.committedOffset, null);
  assert.equal(initialized.position, 0n);
});

for (const [committed, end, outcome] of [
  [10n, 10n, 'committed'],
  [4n, 10n, 'aborted'],
  [4n, 4n, 'offsets unchanged: state restored from the changelog'],
] as const) {
  void test(`a commit in doubt is settled once, from the ledger, by the re-read committed offset: ${outcome}`, async () => {
    const s = setup();
    seedStreamTime(s, committed, T0);
    s.ledger.record(P, { attemptId: 'x#3', fromOffset: 4n, endOffset: end });
    await initialize(s);
    const settled = s.lines.filter(
      (l) => l.msg === 'commit outcome settled by re-reading the committed offset',
    );
    assert.equal(settled.length, 1);
    assert.equal(settled[0]?.outcome, outcome);
    assert.equal(settled[0].attemptId, 'x#3');
    assert.equal(s.ledger.take(P), undefined, 'taken from the ledger');
    await initialize(s);
    assert.equal(s.lines.filter((l) => l.msg === settled[0]?.msg).length, 1, 'settled once');
  });
}

void test('the store is cleared before a restore; a rollback port that refuses skips the restore', async () => {
  const s = setup();
  seedStreamTime(s, 1n, T0);
  await initialize(s);
  assert.equal(s.store.streamTimeMs, T0);
  const keeping = setup({ rollback: { dropFailed: () => undefined, clearForRestore: () => false } });
  seedStreamTime(keeping, 1n, T0);
  await initialize(keeping);
  assert.equal(keeping.store.streamTimeMs, null, 'memory kept as it was: nothing read');
  assert.ok(!keeping.broker.log.some((e) => e.step === 'readChangelog'));
});

void test('a changelog whose last stable offset stays below its high watermark fails this try after the bound', async () => {
  const broker = new FakeBroker();
  const unstable: TaskKafkaPort = {
    createProducer: (id) => broker.createProducer(id),
    committedOffset: (g, t, p) => broker.committedOffset(g, t, p),
    partitionRange: () => Promise.resolve({ start: 0n, end: 2n, highWatermark: 5n }),
    readChangelog: () => Promise.reject(new Error('a prefix must never be read')),
  };
  const s = setup({ kafka: unstable, waitMs: 3000 });
  await assert.rejects(initialize(s), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /last stable offset 2 < high watermark 5/);
    assert.equal((error as { code?: string }).code, 'CHANGELOG_UNSTABLE');
    return true;
  });
});
