import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  lagOf,
  longestPartitionStallMs,
  steadyAfter,
  sustainedThroughput,
  type ProgressSample,
} from '../../bench/lib/progress.js';

const END = 10_000;

function samples(points: [atMs: number, committed: number, cpuTicks?: number][]): ProgressSample[] {
  return points.map(([atMs, committed, cpuTicks]) => ({ atMs, committed, end: END, cpuTicks }));
}

void test('throughput counts from the first progress sample to the first zero-lag sample, start-up excluded', () => {
  const figures = sustainedThroughput(
    samples([
      [0, 0, 0],
      [250, 0, 50],
      [500, 0, 90],
      [750, 1000, 100],
      [1750, 5000, 200],
      [2750, 10_000, 300],
      [3000, 10_000, 301],
    ]),
  );
  assert.equal(figures.firstProgressAtMs, 750);
  assert.equal(figures.zeroLagAtMs, 2750);
  assert.equal(figures.records, 9000);
  assert.equal(figures.seconds, 2);
  assert.equal(figures.recordsPerSecond, 4500);
  assert.equal(figures.cpuTicks, 200);
});

void test('without zero lag the interval ends at the last sample that still showed progress', () => {
  const figures = sustainedThroughput(
    samples([
      [0, 0],
      [1000, 2000],
      [2000, 4000],
      [3000, 4000],
    ]),
  );
  assert.equal(figures.zeroLagAtMs, null);
  assert.equal(figures.recordsPerSecond, 2000);
  assert.equal(figures.seconds, 1);
});

void test('a single jump to the end gives no rate: one sample of progress is not an interval', () => {
  const figures = sustainedThroughput(
    samples([
      [0, 0],
      [500, 0],
      [1000, END],
    ]),
  );
  assert.equal(figures.recordsPerSecond, null);
  assert.equal(figures.firstProgressAtMs, 1000);
  assert.equal(figures.zeroLagAtMs, 1000);
});

void test('no samples or no progress give nothing measured', () => {
  assert.equal(sustainedThroughput([]).recordsPerSecond, null);
  assert.equal(
    sustainedThroughput(
      samples([
        [0, 0],
        [250, 0],
      ]),
    ).firstProgressAtMs,
    null,
  );
});

void test('a process gone at zero lag (R0) takes its CPU from its last reading before the exit', () => {
  const figures = sustainedThroughput(
    samples([
      [0, 0, 10],
      [1000, 3000, 100],
      [2000, 7000, 200],
      [2250, END, undefined],
    ]),
  );
  assert.equal(figures.cpuTicks, 100);
  assert.equal(figures.records, 7000);
});

void test('offsets committed before the run began do not count as progress', () => {
  const figures = sustainedThroughput(
    samples([
      [0, 4000],
      [1000, 4000],
      [2000, 7000],
      [3000, END],
    ]),
  );
  assert.equal(figures.firstProgressAtMs, 2000);
  assert.equal(figures.records, 3000);
});

void test('lag is end minus committed and never negative', () => {
  assert.equal(lagOf({ atMs: 0, committed: 4, end: 10 }), 6);
  assert.equal(lagOf({ atMs: 0, committed: 12, end: 10 }), 0);
});

void test('steady means at or below the threshold for the given number of consecutive samples', () => {
  const points = [
    { atMs: 0, lag: 90 },
    { atMs: 100, lag: 50 },
    { atMs: 200, lag: 20 },
    { atMs: 300, lag: 80 },
    { atMs: 400, lag: 10 },
    { atMs: 500, lag: 10 },
    { atMs: 600, lag: 5 },
  ];
  assert.equal(steadyAfter(points, 0, 30, 3), 400);
  assert.equal(steadyAfter(points, 0, 30, 1), 200);
  assert.equal(steadyAfter(points, 500, 30, 2), 500);
  assert.equal(steadyAfter(points, 0, 1, 3), null);
});

void test('the longest partition stall is the last partition to move past its offset at the kill', () => {
  const atKill = new Map([
    [0, 100],
    [1, 50],
  ]);
  const point = (atMs: number, p0: number, p1: number) => ({
    atMs,
    committed: new Map([
      [0, p0],
      [1, p1],
    ]),
  });
  // Partition 0 moves at 1,500 ms, partition 1 at 4,000 ms; a point before the kill does not count.
  const points = [point(900, 120, 60), point(1500, 120, 50), point(2500, 130, 50), point(4000, 130, 55)];
  assert.equal(longestPartitionStallMs(atKill, points.slice(0, 3), 1000), null);
  assert.equal(longestPartitionStallMs(atKill, points, 1000), 3000);
});
