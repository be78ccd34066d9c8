import assert from 'node:assert/strict';
import { test } from 'node:test';

import { StageEvents } from '../../src/observability/events.js';
import {
  MIN_STALL_MS,
  Watchdog,
  describeFinding,
  findLongTransactions,
  findStalls,
  stallCandidates,
  watchdogOptions,
  type WatchdogFinding,
} from '../../src/observability/watchdog.js';

test('the stall limit is several commit intervals, but never below the minimum', () => {
  assert.equal(watchdogOptions(100, 60_000).stallAfterMs, MIN_STALL_MS);
  assert.equal(watchdogOptions(1000, 60_000).stallAfterMs, 20_000);
});

test('the long-transaction limit is half the transaction timeout', () => {
  assert.equal(watchdogOptions(100, 60_000).transactionWarnAfterMs, 30_000);
});

test('only partitions quiet for longer than the limit are stall candidates', () => {
  const partitions = [
    { partition: 0, lastProgressAtMs: 1000 },
    { partition: 1, lastProgressAtMs: 9000 },
  ];
  assert.deepEqual(stallCandidates(partitions, 10_000, 5000), [0]);
});

test('a quiet partition with lag seen by two lookups in a row is stalled', () => {
  const partitions = [{ partition: 0, lastProgressAtMs: 0, lagSeenAtMs: 6000 }];
  const findings = findStalls(partitions, { atMs: 7000, records: new Map([[0, 40]]) }, 7000, 5000);
  assert.deepEqual(findings, [
    { kind: 'stalled', partition: 0, lagRecords: 40, noProgressForMs: 7000, limitMs: 5000 },
  ]);
});

test('lag seen by a single lookup is not yet a stall (a record may have just arrived)', () => {
  const partitions = [{ partition: 0, lastProgressAtMs: 0 }];
  assert.deepEqual(findStalls(partitions, { atMs: 7000, records: new Map([[0, 1]]) }, 7000, 5000), []);
  const seenBySameLookup = [{ partition: 0, lastProgressAtMs: 0, lagSeenAtMs: 7000 }];
  assert.deepEqual(findStalls(seenBySameLookup, { atMs: 7000, records: new Map([[0, 1]]) }, 7000, 5000), []);
});

test('a quiet partition without lag is idle, not stalled', () => {
  const partitions = [{ partition: 0, lastProgressAtMs: 0, lagSeenAtMs: 6000 }];
  assert.deepEqual(findStalls(partitions, { atMs: 7000, records: new Map([[0, 0]]) }, 7000, 5000), []);
});

test('a partition with lag that progressed recently is not stalled', () => {
  const partitions = [{ partition: 0, lastProgressAtMs: 6000, lagSeenAtMs: 6500 }];
  assert.deepEqual(findStalls(partitions, { atMs: 7000, records: new Map([[0, 500]]) }, 7000, 5000), []);
});

test('a transaction open longer than the limit is flagged, a younger one is not', () => {
  const open = new Map([
    [0, 1000],
    [1, 9000],
  ]);
  assert.deepEqual(findLongTransactions(open, 10_000, 5000), [
    { kind: 'long-transaction', partition: 0, openForMs: 9000, limitMs: 5000 },
  ]);
});

test('findings read as sentences an operator can act on', () => {
  assert.equal(
    describeFinding({ kind: 'stalled', partition: 2, lagRecords: 10, noProgressForMs: 6500, limitMs: 5000 }),
    'partition 2 stalled: 10 records of lag and no progress for 6.5 s (limit 5.0 s)',
  );
  assert.equal(
    describeFinding({ kind: 'long-transaction', partition: 1, openForMs: 31_000, limitMs: 30_000 }),
    'partition 1: own transaction open for 31.0 s, past half the transaction timeout (30.0 s)',
  );
});

/** A watchdog on a fake clock, fed by real events, recording what it raised and cleared. */
function harness(options = { stallAfterMs: 5000, transactionWarnAfterMs: 3000 }) {
  let nowMs = 0;
  const raised: WatchdogFinding[] = [];
  const cleared: WatchdogFinding[] = [];
  const events = new StageEvents();
  const watchdog = new Watchdog(options, () => nowMs, {
    raised: (f) => raised.push(f),
    cleared: (f) => cleared.push(f),
  });
  watchdog.subscribe(events);
  return {
    events,
    watchdog,
    raised,
    cleared,
    at(ms: number) {
      nowMs = ms;
    },
    lag(entries: [number, number][]) {
      return { atMs: nowMs, records: new Map(entries) };
    },
  };
}

function committed(events: StageEvents, partition: number, endOffset: bigint): void {
  events.emit('task.committed', {
    partition,
    inputRecords: 1,
    rollups: 0,
    deadLetters: 0,
    changelog: 0,
    endOffset,
    durationMs: 5,
    attemptId: 'a',
  });
}

test('watchdog: a partition that stops committing while it has lag is raised once, and cleared when it commits again', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  committed(h.events, 0, 100n);
  h.at(5500);
  assert.deepEqual(h.watchdog.stallCandidates(), [0]);
  assert.deepEqual(h.watchdog.check(h.lag([[0, 50]])), [], 'the first sight of lag is not a stall');
  h.at(6500);
  const findings = h.watchdog.check(h.lag([[0, 50]]));
  assert.equal(findings.length, 1);
  assert.equal(h.raised.length, 1);
  h.at(7500);
  h.watchdog.check(h.lag([[0, 50]]));
  assert.equal(h.raised.length, 1, 'raised once, not on every check');
  committed(h.events, 0, 150n);
  h.watchdog.check();
  assert.equal(h.cleared.length, 1);
  assert.deepEqual(h.watchdog.findings, []);
});

test('watchdog: a commit that does not move the offset is no progress', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  committed(h.events, 0, 100n);
  h.at(6000);
  committed(h.events, 0, 100n);
  assert.deepEqual(h.watchdog.stallCandidates(), [0]);
});

test('watchdog: between lag lookups a stall verdict stands while the partition stays quiet', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  h.at(5500);
  h.watchdog.check(h.lag([[0, 5]]));
  h.at(6500);
  h.watchdog.check(h.lag([[0, 5]]));
  h.at(7500);
  assert.equal(h.watchdog.check().length, 1);
  assert.equal(h.cleared.length, 0);
});

test('watchdog: lag seen at 0 counts as progress, so an idle partition is not flagged when a record arrives', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  h.at(5500);
  h.watchdog.check(h.lag([[0, 0]]));
  assert.deepEqual(h.watchdog.stallCandidates(), [], 'caught up just now');
  h.at(11_000);
  h.watchdog.check(h.lag([[0, 1]]));
  committed(h.events, 0, 1n);
  h.at(12_000);
  assert.deepEqual(h.watchdog.check(h.lag([[0, 0]])), []);
  assert.equal(h.raised.length, 0);
});

test('watchdog: a restoring partition is not a stall candidate; its restore counts as progress', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  h.events.emit('task.restore_progressed', { partition: 0, records: 0, position: null, endOffset: 10n });
  h.at(60_000);
  assert.deepEqual(h.watchdog.stallCandidates(), []);
  h.events.emit('task.restored', { partition: 0, records: 10, windows: 3, durationMs: 60_000 });
  assert.deepEqual(h.watchdog.stallCandidates(), []);
});

test('watchdog: an own transaction open past the limit is raised, and cleared when it ends', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [1] });
  h.events.emit('transaction.began', { partition: 1, transactionalId: 't', atMs: 0 });
  h.at(2000);
  assert.deepEqual(h.watchdog.check(), []);
  h.at(3500);
  assert.deepEqual(h.watchdog.check(), [
    { kind: 'long-transaction', partition: 1, openForMs: 3500, limitMs: 3000 },
  ]);
  assert.deepEqual([...h.watchdog.openTransactionAges()], [[1, 3500]]);
  h.events.emit('transaction.ended', { partition: 1, outcome: 'committed', durationMs: 3600 });
  h.at(3600);
  assert.deepEqual(h.watchdog.check(), []);
  assert.equal(h.cleared.length, 1);
});

test('watchdog: partitions no longer assigned are forgotten, their findings cleared', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0, 1] });
  h.events.emit('transaction.began', { partition: 1, transactionalId: 't', atMs: 0 });
  h.at(4000);
  assert.equal(h.watchdog.check().length, 1);
  h.events.emit('stage.assigned', { partitions: [0] });
  assert.deepEqual(h.watchdog.check(), []);
  assert.equal(h.cleared.length, 1);
  assert.deepEqual([...h.watchdog.openTransactionAges()], []);
});

test('watchdog: a restore that failed no longer hides its partition from the stall check', () => {
  const h = harness();
  h.events.emit('stage.assigned', { partitions: [0] });
  h.events.emit('task.restore_progressed', { partition: 0, records: 0, position: null, endOffset: 10n });
  h.events.emit('task.aborted', {
    partition: 0,
    kind: 'retriable',
    code: 'REQUEST_TIMED_OUT',
    message: 'x',
    attempt: 1,
  });
  h.at(6000);
  assert.deepEqual(h.watchdog.stallCandidates(), [0]);
});
