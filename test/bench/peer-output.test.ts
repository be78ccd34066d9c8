import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseK1Totals, parseR0Output, parseS1Lines, parseStageLog } from '../../bench/lib/peer-output.js';

void test("R0's rate is the fetch.nMsg.sec column of the line after the header", () => {
  const lines = [
    'WARN some log line',
    'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
    '2025-11-25 16:42:18:001, 2025-11-25 16:42:24:100, 21.3, 3.5, 150000, 24590.9, 3050, 3049, 6.99, 49196.5',
  ];
  assert.equal(parseR0Output(lines), 49196.5);
});

void test('R0 output without its table gives no figure', () => {
  assert.equal(parseR0Output(['Exception in thread main']), null);
});

void test("K1's totals come from its last JSON line", () => {
  const lines = ['noise', '{"k1":"eos","batches":12,"records":150000,"transactions":12}'];
  assert.deepEqual(parseK1Totals(lines), { batches: 12, records: 150000, transactions: 12 });
  assert.equal(parseK1Totals(['no totals']), undefined);
});

void test("S1's commit latencies are every txnCommitMs of every status line; event lines are skipped", () => {
  const lines = [
    '{"event":"started","ts":1}',
    '{"ts":2,"state":"RUNNING","records":100,"txnCommitMs":[10,20],"rollups":0}',
    'a log line that is not JSON',
    '{"ts":3,"state":"RUNNING","records":300,"txnCommitMs":[30],"rollups":5}',
    '{"ts":4,"state":"RUNNING","records":300,"txnCommitMs":[],"rollups":5}',
  ];
  const stats = parseS1Lines(lines);
  assert.equal(stats.commits, 3);
  assert.equal(stats.commitP50Ms, 20);
  assert.equal(stats.commitP99Ms, 29.8);
  assert.equal(stats.records, 300);
  assert.equal(stats.rollups, 5);
});

void test('S1 without status lines has no figures', () => {
  assert.deepEqual(parseS1Lines(['{"event":"started","ts":1}']), {
    commits: null,
    commitP50Ms: null,
    commitP99Ms: null,
    records: null,
    rollups: null,
  });
});

void test("the stage's pino lines give msg, time and their fields; other lines nothing", () => {
  const entry = parseStageLog(
    '{"level":30,"time":1700000000123,"msg":"partitions assigned","partitions":[0,1]}',
  );
  assert.ok(entry);
  assert.equal(entry.msg, 'partitions assigned');
  assert.equal(entry.time, 1700000000123);
  assert.deepEqual(entry.fields.partitions, [0, 1]);
  assert.equal(parseStageLog('plain text'), undefined);
  assert.equal(parseStageLog('{"msg":"no time"}'), undefined);
});
