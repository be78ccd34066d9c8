import assert from 'node:assert/strict';
import { test } from 'node:test';

import { windowLatencies } from '../../bench/lib/latency-run.js';
import { newRestartLog, noteRestartLine, restoredAt } from '../../bench/lib/recovery-run.js';

const line = (time: number, msg: string, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ level: 30, time, msg, ...fields });

void test('a rollup is late by its arrival minus window end plus grace; only windows inside the range count', () => {
  const seen = [
    { windowStart: 0, windowEnd: 1000, atMs: 1500 },
    { windowStart: 1000, windowEnd: 2000, atMs: 2100 },
    { windowStart: 2000, windowEnd: 3000, atMs: 3900 },
    { windowStart: 3000, windowEnd: 4000, atMs: 4050 },
  ];
  assert.deepEqual(windowLatencies(seen, 1000, 3000, 0), [100, 900]);
  assert.deepEqual(windowLatencies(seen, 1000, 3000, 50), [50, 850]);
});

void test('rejoin is the first assignment; restore is done when every assigned partition has restored', () => {
  const log = newRestartLog();
  noteRestartLine(log, line(100, 'inventory caught up'));
  noteRestartLine(log, line(200, 'partitions assigned', { partitions: [0, 1] }));
  noteRestartLine(log, line(300, 'state restored', { partition: 1, records: 40 }));
  assert.equal(restoredAt(log), null);
  noteRestartLine(log, line(450, 'state restored', { partition: 0, records: 60 }));
  noteRestartLine(log, line(900, 'partitions assigned', { partitions: [0, 1, 2] }));
  assert.equal(log.assignedAtMs, 200);
  assert.deepEqual(log.partitions, [0, 1]);
  assert.equal(restoredAt(log), 450);
  assert.equal(log.restoredRecords, 100);
});

void test('lines that are not the stage’s JSON logs change nothing', () => {
  const log = newRestartLog();
  noteRestartLine(log, 'plain text');
  noteRestartLine(log, '{"broken json');
  assert.deepEqual(log, newRestartLog());
  assert.equal(restoredAt(log), null);
});
