import assert from 'node:assert/strict';
import { test } from 'node:test';

import { UsageError, parseBenchArgs } from '../../bench/lib/options.js';

void test('the defaults are the issue workload: 6 partitions, 10,000 hosts, 60 s windows, 5 s grace, 3 rounds', () => {
  const options = parseBenchArgs([]);
  assert.ok(options);
  assert.equal(options.partitions, 6);
  assert.equal(options.hosts, 10_000);
  assert.equal(options.windowMs, 60_000);
  assert.equal(options.graceMs, 5000);
  assert.equal(options.rounds, 3);
  assert.equal(options.records, 3_000_000);
  assert.equal(options.sharedBroker, false);
  assert.equal(options.warmUp, true);
  assert.deepEqual(options.peers, [
    'R0',
    'R1',
    'K1',
    'SUT-100ms',
    'SUT-1s',
    'SUT-ALO-1s',
    'S1-1s',
    'S1-100ms',
    'SUT-1s-2t',
    'S1-1s-2t',
  ]);
});

void test('quick mode is one round of a small input on the shared broker, without warm-up, live load capped', () => {
  const options = parseBenchArgs(['--quick']);
  assert.ok(options);
  assert.equal(options.rounds, 1);
  assert.equal(options.records, 100_000);
  assert.equal(options.sharedBroker, true);
  assert.equal(options.warmUp, false);
  assert.equal(options.liveRateCap, 5000);
  assert.deepEqual(options.latencyPeers, ['SUT-1s', 'S1-1s']);
  assert.deepEqual(options.peers, ['R0', 'R1', 'K1', 'SUT-100ms', 'SUT-1s', 'SUT-ALO-1s', 'S1-1s']);
});

void test('explicit options win over the quick defaults', () => {
  const options = parseBenchArgs(['--quick', '--rounds', '2', '--records', '5000', '--private-broker']);
  assert.ok(options);
  assert.equal(options.rounds, 2);
  assert.equal(options.records, 5000);
  assert.equal(options.sharedBroker, false);
});

void test('peers are reported in the canonical order, whatever order they were given in', () => {
  assert.deepEqual(parseBenchArgs(['--peers', 'S1-1s,K1-ALO,R0,SUT-1s'])?.peers, [
    'R0',
    'K1-ALO',
    'SUT-1s',
    'S1-1s',
  ]);
});

void test('latency runs are only for the stage and Kafka Streams', () => {
  assert.deepEqual(parseBenchArgs(['--latency-peers', 'R0,SUT-100ms'])?.latencyPeers, ['SUT-100ms']);
});

void test('bad values are usage errors naming the option', () => {
  assert.throws(
    () => parseBenchArgs(['--rounds', '0']),
    (e: unknown) => e instanceof UsageError && e.message.includes('--rounds'),
  );
  assert.throws(() => parseBenchArgs(['--peers', 'R0,X9']), /unknown X9/);
  assert.throws(() => parseBenchArgs(['--grace-ms', '700000']), /--grace-ms/);
  assert.throws(() => parseBenchArgs(['--s1-heap', 'lots']), /--s1-heap/);
  assert.throws(() => parseBenchArgs(['--shared-broker', '--private-broker']), /exclude/);
  assert.throws(() => parseBenchArgs(['--nope']), UsageError);
});

void test('--help returns nothing to run', () => {
  assert.equal(parseBenchArgs(['--help']), undefined);
});
