import assert from 'node:assert/strict';
import { test } from 'node:test';

import { computeRatios, evaluateTargets, peerMedians, roundOrder } from '../../bench/lib/ratios.js';
import { round, sampleResult } from './fixture.js';

void test('medians are taken over the rounds that succeeded only', () => {
  const medians = peerMedians([round(1, 1, 10), round(2, 1, null), round(3, 1, 30)]);
  assert.equal(medians.throughputRps, 20);
});

void test('the ratios divide median throughputs: SUT at 1 s commits over S1, R0, R1 and K1', () => {
  const { ratios } = sampleResult();
  assert.equal(ratios.sut_over_s1, 1.1); // 55,000 / 50,000
  assert.equal(ratios.sut_over_r0, 0.55); // 55,000 / 100,000
  assert.equal(ratios.sut_over_r1, 0.6875); // 55,000 / 80,000, the median of 80,000, 88,000 and 72,000
  assert.equal(ratios.sut_over_k1, 2.75); // 55,000 / 20,000
});

void test('the second core: SUT with two stream threads over S1 with one, and over S1 with two', () => {
  const { ratios } = sampleResult();
  assert.equal(ratios.sut2t_over_s1, 1.5); // 75,000 / 50,000
  assert.equal(ratios.sut2t_over_s1_2t, 1.2); // 75,000 / 62,500
});

void test('the EOS tax is one minus the stage exactly-once over the stage at-least-once, both at 1 s commits', () => {
  // SUT-1s 55,000; SUT-ALO-1s median of its two good rounds 61,000; 1 − 0.9016.
  assert.equal(sampleResult().ratios.eos_tax_1s, 0.0984);
});

void test('a peer that was not measured leaves its ratios null, not zero or infinite', () => {
  const result = sampleResult();
  const ratios = computeRatios(result.peers.filter((p) => p.id !== 'S1-1s' && p.id !== 'SUT-ALO-1s'));
  assert.equal(ratios.sut_over_s1, null);
  assert.equal(ratios.eos_tax_1s, null);
  assert.equal(ratios.sut_over_r0, 0.55);
});

void test('targets say pass or miss and by how much', () => {
  const targets = sampleResult().targets;
  const byName = new Map(targets.map((t) => [t.name, t]));
  assert.deepEqual(byName.get('SUT/S1 throughput'), {
    name: 'SUT/S1 throughput',
    target: '≥ 1.00',
    value: '1.10',
    verdict: 'pass',
    margin: '+10% of target',
  });
  assert.equal(byName.has('SUT/R0 throughput'), false, 'R1 is the ceiling with a target; R0 a ratio only');
  assert.deepEqual(byName.get('CPU per record, SUT-1s'), {
    name: 'CPU per record, SUT-1s',
    target: '≤ 6.0 µs',
    value: '20.0 µs',
    verdict: 'miss',
    margin: 'over by 14.0 µs',
  });
  assert.equal(byName.get('peak RSS, SUT-1s at 10,000 hosts')?.verdict, 'pass');
  assert.equal(byName.get('peak RSS, SUT-1s at 10,000 hosts')?.margin, '100 MB to spare');
  const tax = byName.get('EOS tax at 1 s commits');
  assert.ok(tax);
  assert.equal(tax.verdict, 'pass');
  assert.equal(tax.value, '9.8%');
  assert.equal(tax.margin, '0.2% to spare');
  assert.equal(byName.get('p99 input-to-visible, SUT-100ms at half its sustained rate')?.verdict, 'pass');
  assert.equal(
    byName.get('p99 input-to-visible, SUT-100ms at half its sustained rate')?.margin,
    '10 ms to spare',
  );
  assert.equal(
    byName.get('p99 input-to-visible, SUT-1s at half its sustained rate')?.margin,
    'over by 150 ms',
  );
  const stall = byName.get('longest partition stall after a SIGKILL and a static restart');
  assert.ok(stall);
  assert.equal(stall.verdict, 'miss');
  assert.equal(stall.margin, 'over by 1.5 s');
  assert.equal(
    byName.get('recovery after a SIGKILL and a static restart (kill to caught up)')?.verdict,
    'miss',
  );
  // The dynamic run, without STATE_DIR: 1.5 s from `partitions assigned` to the last `state restored` for
  // 300,000 records, 2.5 s per 500,000. The static run restored from its checkpoint in 1.5 s.
  assert.equal(byName.get('full restore (no checkpoint) per 500,000 changelog records')?.value, '2.5 s');
  assert.equal(
    byName.get('restore after a SIGKILL and a static restart, from a STATE_DIR checkpoint')?.value,
    '1.5 s',
  );
  const churn = byName.get('throughput with one of two members SIGKILLed every 10 s, of undisturbed');
  assert.ok(churn);
  assert.equal(churn.verdict, 'pass');
  assert.equal(churn.value, '80.0%');
  assert.equal(byName.get('RSS flat over a 30-minute run')?.verdict, 'not measured');
  // The SIGSTOP's 14.6 s is a pause's length, not a kill's stall: the target takes the kill's 6.2 s.
  const brokerKill = byName.get(
    'stall while a broker is killed in the three-broker cluster (longest of the kills and the roll)',
  );
  assert.equal(brokerKill?.value, '6.2 s');
  assert.equal(brokerKill.verdict, 'pass');
});

void test('a cluster scenario that failed fails the broker-kill target, whatever its stall', () => {
  const result = sampleResult();
  const cluster = result.cluster;
  assert.ok(cluster);
  const failed = { ...cluster, ok: false, error: 'failed: the leader …' };
  failed.scenarios = cluster.scenarios.map((s, i) => (i === 0 ? { ...s, passed: false, violations: 3 } : s));
  const check = evaluateTargets({ ...result, cluster: failed }).find((t) =>
    t.name.startsWith('stall while a broker'),
  );
  assert.equal(check?.verdict, 'miss');
  assert.equal(check.margin, 'failed: the leader …');
  const notRun = evaluateTargets({ ...result, cluster: null }).find((t) =>
    t.name.startsWith('stall while a broker'),
  );
  assert.equal(notRun?.verdict, 'not measured');
});

void test('a failed recovery or missing latency run is not measured, never a pass', () => {
  const result = sampleResult();
  const failedChurn = result.churn && { ...result.churn, ok: false };
  const targets = evaluateTargets({
    ...result,
    latency: [],
    recovery: null,
    recoveryDynamic: null,
    churn: failedChurn,
  });
  assert.ok(
    targets
      .filter((t) => /input-to-visible|restart|restore|SIGKILLed/.test(t.name))
      .every((t) => t.verdict === 'not measured'),
  );
});

void test('rounds rotate the peer order so none always runs first', () => {
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['b', 'c', 'a']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 4), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder([], 2), []);
});
