/** A small, hand-made BenchResult for the pure report and ratio tests. */
import { summarizePeer, computeRatios, evaluateTargets, RATIO_DEFINITIONS } from '../../bench/lib/ratios.js';
import type { BenchResult, PeerId, RoundFigures } from '../../bench/lib/types.js';

export function round(
  roundNumber: number,
  slot: number,
  throughputRps: number | null,
  extra: Partial<RoundFigures> = {},
): RoundFigures {
  return {
    round: roundNumber,
    slot,
    ok: throughputRps !== null,
    error: throughputRps === null ? 'failed' : null,
    throughputRps,
    brokerRps: throughputRps,
    sustainedS: 60,
    startupS: 3,
    zeroLagS: 63,
    cpuUsPerRecord: 20,
    cpuUsPerRecordTotal: 25,
    peakRssMb: 300,
    commitP50Ms: null,
    commitP99Ms: null,
    commits: null,
    selfReportedRps: null,
    ...extra,
  };
}

function peer(id: PeerId, rates: (number | null)[], extra: Partial<RoundFigures> = {}) {
  return summarizePeer(
    { id, label: `${id} label`, description: `${id} description`, commitLatencyMeaning: null },
    rates.map((rate, i) => round(i + 1, i + 1, rate, extra)),
  );
}

export function sampleResult(): BenchResult {
  const peers = [
    peer('R0', [100_000, 110_000, 90_000]),
    peer('R1', [80_000, 88_000, 72_000]),
    peer('K1', [18_000, 20_000, 22_000]),
    peer('SUT-100ms', [40_000, 41_000, 39_000], { commitP50Ms: 40, commitP99Ms: 120 }),
    peer('SUT-1s', [50_000, 60_000, 55_000], { commitP50Ms: 400, commitP99Ms: 900 }),
    peer('SUT-ALO-1s', [60_000, 62_000, null]),
    peer('S1-1s', [45_000, 50_000, 55_000], { commitP50Ms: 10, commitP99Ms: 80 }),
  ];
  const result: BenchResult = {
    schema: 1,
    generatedAt: '2025-11-25T12:00:00.000Z',
    machine: {
      cpuModel: 'AMD EPYC',
      cores: 2,
      kafkaVersion: '4.1.1',
      nodeVersion: 'v20.19.0',
      javaVersion: '17.0.15',
      gitCommit: '0123456789abcdef0123456789abcdef01234567',
      gitDirty: false,
    },
    settings: {
      quick: false,
      rounds: 3,
      records: 1_500_000,
      partitions: 6,
      hosts: 10_000,
      stepMs: 10_000,
      windowMs: 60_000,
      graceMs: 5000,
      sessionTimeoutMs: 10_000,
      broker: 'private',
      s1Heap: '1g',
    },
    workload: {
      records: 1_500_000,
      avgPayloadBytes: 149,
      preloadS: 30,
      preloadRps: 50_000,
      eventTimeSpanS: 1500,
    },
    ratios: computeRatios(peers),
    ratioDefinitions: RATIO_DEFINITIONS,
    targets: [],
    peers,
    latency: [
      {
        peer: 'SUT-100ms',
        ok: true,
        error: null,
        ratePerSecond: 20_000,
        seconds: 30,
        windowMs: 1000,
        graceMs: 0,
        commitIntervalMs: 100,
        rollups: 30_000,
        p50Ms: 90,
        p99Ms: 140,
        maxMs: 300,
      },
      {
        peer: 'SUT-1s',
        ok: true,
        error: null,
        ratePerSecond: 27_500,
        seconds: 30,
        windowMs: 1000,
        graceMs: 0,
        commitIntervalMs: 1000,
        rollups: 30_000,
        p50Ms: 600,
        p99Ms: 1200,
        maxMs: 1400,
      },
      {
        peer: 'S1-1s',
        ok: true,
        error: null,
        ratePerSecond: 25_000,
        seconds: 30,
        windowMs: 1000,
        graceMs: 0,
        commitIntervalMs: 1000,
        rollups: 30_000,
        p50Ms: 700,
        p99Ms: 1030,
        maxMs: 1100,
      },
    ],
    recovery: {
      ok: true,
      error: null,
      instances: 1,
      sessionTimeoutMs: 10_000,
      commitIntervalMs: 1000,
      ratePerSecond: 27_500,
      steadyLagRecords: 9000,
      rejoinS: 9.5,
      restoreS: 11,
      firstCommitS: 11.4,
      caughtUpS: 16.2,
      restoredRecords: 120_000,
      audit: { exitCode: 0, verdict: 'clean', summary: 'audit: no violations' },
    },
    elapsedS: 1800,
  };
  result.targets = evaluateTargets(result);
  return result;
}
