import assert from 'node:assert/strict';
import { test } from 'node:test';

import { evaluatePartition, groupStatus, type OffsetSample } from '../../src/ops/lag-status.js';

/** Samples 1.5 s apart from [offset, lag] pairs. */
function samples(...points: [number, number][]): OffsetSample[] {
  return points.map(([offset, lag], i) => ({ atMs: 10_000 + i * 1500, offset: BigInt(offset), lag }));
}

test('rule 1: no current lag is OK, whatever the offsets did', () => {
  const verdict = evaluatePartition({ samples: samples([5, 3], [5, 3], [5, 0]), isOwned: false });
  assert.deepEqual(verdict, { status: 'OK', reason: 'no lag' });
});

test('rule 1: lag that was 0 at any sample of the window is OK even though the offset stood still', () => {
  const verdict = evaluatePartition({ samples: samples([5, 0], [5, 2], [5, 4]), isOwned: false });
  assert.deepEqual(verdict, { status: 'OK', reason: 'lag was 0 within the window' });
});

test('rule 2: a committed offset that goes back is REWIND', () => {
  const verdict = evaluatePartition({ samples: samples([100, 10], [120, 5], [90, 40]), isOwned: true });
  assert.deepEqual(verdict, { status: 'REWIND', reason: 'offset went back from 120 to 90' });
});

test('rule 2 comes before rules 3 and 4: a rewind that then stands still is REWIND, not STOP', () => {
  const verdict = evaluatePartition({ samples: samples([100, 10], [90, 20], [90, 20]), isOwned: false });
  assert.equal(verdict.status, 'REWIND');
});

test('rule 3: lag and an offset that did not move, with no member owning the partition, is STOP', () => {
  const verdict = evaluatePartition({ samples: samples([4, 6], [4, 6], [4, 6]), isOwned: false });
  assert.deepEqual(verdict, {
    status: 'STOP',
    reason: 'no progress for 3.0 s at offset 4 with lag 6 and no group member owns the partition',
  });
});

test('rule 4: lag and an offset that did not move although a member owns the partition is STALL', () => {
  const verdict = evaluatePartition({ samples: samples([4, 6], [4, 7], [4, 9]), isOwned: true });
  assert.deepEqual(verdict, {
    status: 'STALL',
    reason: 'no progress for 3.0 s at offset 4 with lag 9 although a group member owns the partition',
  });
});

test('rule 5: an offset that moves while lag never decreases is WARN (equal lag counts as not decreasing)', () => {
  const growing = evaluatePartition({ samples: samples([10, 50], [20, 60], [30, 60]), isOwned: true });
  assert.deepEqual(growing, {
    status: 'WARN',
    reason: 'offset advances but lag never decreased in 3.0 s (50 → 60)',
  });
});

test('rule 6: an offset that moves while lag decreases somewhere in the window is OK', () => {
  const verdict = evaluatePartition({ samples: samples([10, 50], [20, 70], [40, 65]), isOwned: true });
  assert.deepEqual(verdict, { status: 'OK', reason: 'catching up (lag 50 → 65 in 3.0 s)' });
});

test('one sample with lag tells no trend: OK until the window has two', () => {
  const verdict = evaluatePartition({ samples: samples([4, 6]), isOwned: false });
  assert.deepEqual(verdict, { status: 'OK', reason: 'one sample so far: no trend yet' });
});

test('the group takes its worst partition, and anything worse than WARN is ERR', () => {
  assert.equal(groupStatus([]), 'OK');
  assert.equal(groupStatus(['OK', 'OK']), 'OK');
  assert.equal(groupStatus(['OK', 'WARN']), 'WARN');
  assert.equal(groupStatus(['WARN', 'STALL']), 'ERR');
  assert.equal(groupStatus(['OK', 'STOP']), 'ERR');
  assert.equal(groupStatus(['REWIND', 'OK']), 'ERR');
});
