import assert from 'node:assert/strict';
import { test } from 'node:test';

import { windowLatencies } from '../../bench/lib/latency-run.js';
import { longestStandstillMs } from '../../bench/lib/churn-run.js';
import { membershipEnv, newRestartLog, noteRestartLine, restoredAt } from '../../bench/lib/recovery-run.js';

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

void test('a static restart keeps its INSTANCE_ID and asks for static membership; a dynamic one is a new member', () => {
  assert.deepEqual(membershipEnv('static', 'app', 1), membershipEnv('static', 'app', 2));
  assert.deepEqual(membershipEnv('static', 'app', 2), { INSTANCE_ID: 'app-a', STATIC_MEMBERSHIP: 'true' });
  assert.notEqual(
    membershipEnv('dynamic', 'app', 1).INSTANCE_ID,
    membershipEnv('dynamic', 'app', 2).INSTANCE_ID,
  );
  assert.equal(membershipEnv('dynamic', 'app', 2).STATIC_MEMBERSHIP, undefined);
});

void test('the longest standstill counts from the first progress and ends when the committed sum moves', () => {
  const at = (atMs: number, committed: number) => ({ atMs, committed, end: 100 });
  // 0–1000 ms is start-up, not a standstill; 1500–3500 is one (2000 ms); 4000–4500 a shorter one.
  const samples = [
    at(0, 0),
    at(1000, 0),
    at(1500, 10),
    at(2500, 10),
    at(3500, 10),
    at(4000, 30),
    at(4500, 30),
  ];
  assert.equal(longestStandstillMs(samples), 2000);
  assert.equal(longestStandstillMs([at(0, 0), at(500, 0)]), 0);
});
