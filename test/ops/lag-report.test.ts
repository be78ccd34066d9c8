import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LagWindow, formatLagReport, type GroupObservation } from '../../src/ops/lag-report.js';

const OWNER = { memberId: 'eos-rollup-a-1f2e', clientId: 'eos-rollup-a', host: '10.0.0.7' };

/** Partition 0 stuck at 4 of 10 without owner; partition 1 owned and drained at 20. */
function observation(atMs: number, p0Offset: bigint | null = 4n): GroupObservation {
  return {
    atMs,
    clusterId: 'cluster-1',
    groupState: 'Stable',
    partitions: [
      {
        partition: 0,
        committedOffset: p0Offset,
        position: p0Offset ?? 0n,
        logEndOffset: 10n,
        lag: 10 - Number(p0Offset ?? 0n),
        lagSeconds: 61.23456,
        owner: null,
      },
      {
        partition: 1,
        committedOffset: 20n,
        position: 20n,
        logEndOffset: 20n,
        lag: 0,
        lagSeconds: 0,
        owner: OWNER,
      },
    ],
  };
}

test('the report carries the stable field names, the verdicts and the totals', () => {
  const window = new LagWindow('app', 'metrics', 3);
  for (const atMs of [0, 1500, 3000]) window.add(observation(1_700_000_000_000 + atMs));
  assert.deepEqual(window.report(), {
    group: 'app',
    topic: 'metrics',
    clusterId: 'cluster-1',
    groupState: 'Stable',
    status: 'ERR',
    evaluatedAt: new Date(1_700_000_003_000).toISOString(),
    window: { samples: 3, spanMs: 3000 },
    totalLag: 6,
    maxLagSeconds: 61.235,
    partitions: [
      {
        partition: 0,
        currentOffset: 4,
        logEndOffset: 10,
        lag: 6,
        lagSeconds: 61.235,
        owner: null,
        status: 'STOP',
        reason: 'no progress for 3.0 s at offset 4 with lag 6 and no group member owns the partition',
      },
      {
        partition: 1,
        currentOffset: 20,
        logEndOffset: 20,
        lag: 0,
        lagSeconds: 0,
        owner: OWNER,
        status: 'OK',
        reason: 'no lag',
      },
    ],
  });
});

test('the window slides: only the last N observations are judged', () => {
  const window = new LagWindow('app', 'metrics', 2);
  window.add(observation(0, 1n));
  window.add(observation(1000, 4n));
  assert.equal(window.report().partitions[0]?.status, 'OK', 'offset moved from 1 to 4: catching up');
  window.add(observation(2000, 4n));
  assert.equal(window.isFull, true);
  assert.equal(window.sampleCount, 2);
  assert.equal(window.report().partitions[0]?.status, 'STOP', 'the move fell out of the window');
  assert.deepEqual(window.report().window, { samples: 2, spanMs: 1000 });
});

test('a partition without a committed offset reports null, and "-" in the table', () => {
  const window = new LagWindow('app', 'metrics', 2);
  window.add(observation(0, null));
  window.add(observation(1500, null));
  const report = window.report();
  const [p0] = report.partitions;
  assert.ok(p0);
  assert.equal(p0.lag, 10);
  assert.equal(p0.currentOffset, null);
  const row = formatLagReport(report).split('\n')[2] ?? '';
  assert.match(row, /^\s+0\s+-\s+10\s+10\s+61\.2\s+STOP\s+-\s+no progress/);
});

test('the table names the group status, one row per partition with its owner, and the totals', () => {
  const window = new LagWindow('app', 'metrics', 2);
  window.add(observation(1_700_000_000_000));
  window.add(observation(1_700_000_001_500));
  const lines = formatLagReport(window.report()).split('\n');
  assert.equal(
    lines[0],
    'group app on metrics: ERR (state Stable, cluster cluster-1, 2 samples over 1.5 s, 2023-11-14T22:13:21.500Z)',
  );
  assert.match(
    lines[1] ?? '',
    /^PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+LAG-SECONDS\s+STATUS\s+OWNER\s+REASON$/,
  );
  assert.match(lines[3] ?? '', /^\s+1\s+20\s+20\s+0\s+0\.0\s+OK\s+eos-rollup-a@10\.0\.0\.7\s+no lag$/);
  assert.equal(lines[4], 'total lag 6 records, max lag 61.2 s');
});

test('lag seconds unknown everywhere makes the maximum unknown, not 0', () => {
  const window = new LagWindow('app', 'metrics', 1);
  const o = observation(0);
  window.add({ ...o, partitions: o.partitions.map((p) => ({ ...p, lagSeconds: null })) });
  assert.equal(window.report().maxLagSeconds, null);
  assert.match(formatLagReport(window.report()), /max lag unknown$/);
});
