import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PEERS, stageCommitFigures } from '../../bench/lib/peers.js';

const SCRAPE = `# TYPE eos_rollup_commit_latency_seconds histogram
eos_rollup_commit_latency_seconds_bucket{le="0.1"} 50
eos_rollup_commit_latency_seconds_bucket{le="0.25"} 98
eos_rollup_commit_latency_seconds_bucket{le="0.5"} 100
eos_rollup_commit_latency_seconds_bucket{le="+Inf"} 100
eos_rollup_commit_latency_seconds_sum 9
eos_rollup_commit_latency_seconds_count 100
eos_rollup_transactions_committed_total{partition="0"} 60
eos_rollup_transactions_committed_total{partition="1"} 40
`;

void test("the stage's commit figures come from its histogram, in milliseconds, and its committed counter", () => {
  const figures = stageCommitFigures(SCRAPE);
  assert.equal(figures.commitP50Ms, 100);
  assert.ok(Math.abs((figures.commitP99Ms ?? 0) - 375) < 1e-6);
  assert.equal(figures.commits, 100);
});

void test('a stage that did not answer its scrape gives no commit figures', () => {
  assert.deepEqual(stageCommitFigures(undefined), {});
});

void test('the SUT is ready once every assigned task runs; S1 once Kafka Streams says started', () => {
  const settled = JSON.stringify({ level: 30, time: 1, msg: 'assignment settled', partitions: [0] });
  assert.equal(PEERS['SUT-1s'].isReadyLine(settled), true);
  assert.equal(
    PEERS['SUT-1s'].isReadyLine(JSON.stringify({ level: 30, time: 1, msg: 'partitions assigned' })),
    false,
  );
  assert.equal(PEERS['S1-1s'].isReadyLine('{"event":"started","ts":1}'), true);
  assert.equal(PEERS['S1-1s'].isReadyLine('{"ts":1,"state":"REBALANCING"}'), false);
});

void test('only R0 is headlined by its own figure and waited for to exit; every other peer is stopped', () => {
  for (const peer of Object.values(PEERS)) {
    assert.equal(peer.throughputFrom, peer.id === 'R0' ? 'self' : 'broker', peer.id);
    assert.equal(peer.exitsByItself, peer.id === 'R0', peer.id);
  }
});
