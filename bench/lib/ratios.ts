/**
 * From rounds to the headline: per-peer medians, the ratios, and the targets with pass or miss and by how
 * much. Pure: it reads figures, never measures.
 */
import { brokerKillStallS } from './cluster-run.js';
import { medianOf, round } from './stats.js';
import {
  FIGURE_NAMES,
  type BenchResult,
  type PeerId,
  type PeerMedians,
  type PeerResult,
  type Ratios,
  type RecoveryResult,
  type RoundFigures,
  type TargetCheck,
} from './types.js';

/** Round r runs the peers rotated by r − 1, so no peer always runs first or last. */
export function roundOrder<T>(peers: readonly T[], roundNumber: number): T[] {
  const shift = (roundNumber - 1) % Math.max(1, peers.length);
  return [...peers.slice(shift), ...peers.slice(0, shift)];
}

/** Medians over the rounds that succeeded; a round that failed contributes nothing. */
export function peerMedians(rounds: readonly RoundFigures[]): PeerMedians {
  const ok = rounds.filter((r) => r.ok);
  const medians = {} as PeerMedians;
  for (const name of FIGURE_NAMES) medians[name] = medianOf(ok.map((r) => r[name]));
  return medians;
}

/** Figures rounded to 4 significant digits, so the committed JSON does not churn in the noise digits. */
function roundFigures(figures: RoundFigures): RoundFigures {
  const rounded = { ...figures };
  for (const name of FIGURE_NAMES) rounded[name] = round(figures[name], 4);
  return rounded;
}

export function summarizePeer(
  definition: { id: PeerId; label: string; description: string; commitLatencyMeaning: string | null },
  rounds: readonly RoundFigures[],
): PeerResult {
  const medians = peerMedians(rounds);
  const roundedMedians = {} as PeerMedians;
  for (const name of FIGURE_NAMES) roundedMedians[name] = round(medians[name], 4);
  return {
    id: definition.id,
    label: definition.label,
    description: definition.description,
    commitLatencyMeaning: definition.commitLatencyMeaning,
    rounds: rounds.map(roundFigures),
    median: roundedMedians,
  };
}

export const RATIO_DEFINITIONS: Record<keyof Ratios, string> = {
  sut_over_s1:
    'median sustained throughput of SUT-1s (eos-rollup, exactly-once, 1 s commits) / median of S1-1s (Kafka Streams exactly_once_v2, 1 s commits)',
  sut_over_r0: 'median sustained throughput of SUT-1s / median of R0 (raw read_committed Java consumer)',
  sut_over_r1:
    'median sustained throughput of SUT-1s / median of R1 (kafkajs read_committed read plus Avro decoding, nothing else: the ceiling a Node stage can approach)',
  sut_over_k1: 'median sustained throughput of SUT-1s / median of K1 (naive kafkajs exactly-once pipe)',
  sut2t_over_s1:
    'median sustained throughput of SUT-1s-2t (eos-rollup with STREAM_THREADS=2, 1 s commits) / median of S1-1s (Kafka Streams, one stream thread)',
  sut2t_over_s1_2t:
    'median sustained throughput of SUT-1s-2t / median of S1-1s-2t (Kafka Streams with num.stream.threads=2): two threads each',
  eos_tax_1s:
    '1 − SUT-1s / SUT-ALO-1s (median sustained throughputs): the share of throughput the stage gives up for exactly-once at 1 s commits, against the same stage with PROCESSING_GUARANTEE=at_least_once (the same tasks without transactions) at the same commit interval; negative when the exactly-once runs were faster',
};

function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator <= 0) return null;
  return round(numerator / denominator, 4);
}

export function computeRatios(peers: readonly PeerResult[]): Ratios {
  const rps = (id: PeerId): number | null => peers.find((p) => p.id === id)?.median.throughputRps ?? null;
  const sut = rps('SUT-1s');
  const kept = ratio(sut, rps('SUT-ALO-1s'));
  return {
    sut_over_s1: ratio(sut, rps('S1-1s')),
    sut_over_r0: ratio(sut, rps('R0')),
    sut_over_r1: ratio(sut, rps('R1')),
    sut_over_k1: ratio(sut, rps('K1')),
    eos_tax_1s: kept === null ? null : round(1 - kept, 4),
    sut2t_over_s1: ratio(rps('SUT-1s-2t'), rps('S1-1s')),
    sut2t_over_s1_2t: ratio(rps('SUT-1s-2t'), rps('S1-1s-2t')),
  };
}

function percent(value: number): string {
  const rounded = Math.round(value * 1000) / 10;
  return `${rounded > 0 ? '+' : ''}${rounded}%`;
}

/** A "value ≥ target" check. */
function atLeast(
  name: string,
  target: number,
  value: number | null,
  show: (v: number) => string,
): TargetCheck {
  if (value === null)
    return { name, target: `≥ ${show(target)}`, value: '—', verdict: 'not measured', margin: '' };
  const pass = value >= target;
  return {
    name,
    target: `≥ ${show(target)}`,
    value: show(value),
    verdict: pass ? 'pass' : 'miss',
    margin: `${percent(value / target - 1)} of target`,
  };
}

/** A "value ≤ target" check. */
function atMost(
  name: string,
  target: number,
  value: number | null,
  show: (v: number) => string,
): TargetCheck {
  if (value === null)
    return { name, target: `≤ ${show(target)}`, value: '—', verdict: 'not measured', margin: '' };
  const pass = value <= target;
  const difference = Math.abs(value - target);
  return {
    name,
    target: `≤ ${show(target)}`,
    value: show(value),
    verdict: pass ? 'pass' : 'miss',
    margin: pass ? `${show(difference)} to spare` : `over by ${show(difference)}`,
  };
}

const fixed2 = (v: number): string => v.toFixed(2);
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const ms = (v: number): string => `${Math.round(v)} ms`;
const s = (v: number): string => `${v.toFixed(1)} s`;
const us = (v: number): string => `${v.toFixed(1)} µs`;
const mb = (v: number): string => `${Math.round(v)} MB`;

/** A recovery run's restore: from `partitions assigned` to the last `state restored`. */
export function restoreSeconds(recovery: RecoveryResult | null): number | null {
  if (recovery?.restoreS == null || recovery.rejoinS === null) return null;
  return recovery.restoreS - recovery.rejoinS;
}

/** A full restore (a run without STATE_DIR), scaled to 500k changelog records. */
export function restorePer500k(recovery: RecoveryResult | null): number | null {
  const seconds = restoreSeconds(recovery);
  if (seconds === null || recovery === null || recovery.stateDir || !recovery.restoredRecords) return null;
  return (seconds * 500_000) / recovery.restoredRecords;
}

/**
 * The targets, each with its verdict. SUT/R0 is a ratio without one: R0 copies bytes and decodes nothing, so R1
 * (a kafkajs read plus Avro decoding) replaced it as the ceiling a Node stage can approach.
 */
export function evaluateTargets(
  result: Pick<
    BenchResult,
    'peers' | 'ratios' | 'latency' | 'recovery' | 'recoveryDynamic' | 'churn' | 'cluster' | 'settings'
  >,
): TargetCheck[] {
  const sut = result.peers.find((p) => p.id === 'SUT-1s')?.median ?? null;
  const checks: TargetCheck[] = [
    atLeast('SUT/S1 throughput', 1.0, result.ratios.sut_over_s1, fixed2),
    atLeast('SUT-2t/S1 throughput', 1.0, result.ratios.sut2t_over_s1, fixed2),
    atLeast('SUT/R1 throughput', 0.5, result.ratios.sut_over_r1, fixed2),
    atMost('EOS tax at 1 s commits', 0.1, result.ratios.eos_tax_1s, pct),
    atMost('CPU per record, SUT-1s', 6, sut?.cpuUsPerRecord ?? null, us),
    atMost(
      `peak RSS, SUT-1s at ${result.settings.hosts.toLocaleString('en-US')} hosts`,
      400,
      sut?.peakRssMb ?? null,
      mb,
    ),
  ];
  for (const run of result.latency.filter((l) => l.peer.startsWith('SUT'))) {
    checks.push(
      atMost(
        `p99 input-to-visible, ${run.peer} at half its sustained rate`,
        run.commitIntervalMs + 50,
        run.ok ? run.p99Ms : null,
        ms,
      ),
    );
  }
  if (result.latency.every((l) => !l.peer.startsWith('SUT'))) {
    checks.push(atMost('p99 input-to-visible at half the sustained rate', 150, null, ms));
  }
  const recovery = result.recovery?.ok === true ? result.recovery : null;
  checks.push(
    atMost(
      'longest partition stall after a SIGKILL and a static restart',
      5,
      recovery?.longestPartitionStallS ?? null,
      s,
    ),
    atMost(
      'recovery after a SIGKILL and a static restart (kill to caught up)',
      15,
      recovery?.caughtUpS ?? null,
      s,
    ),
    atMost(
      'restore after a SIGKILL and a static restart, from a STATE_DIR checkpoint',
      3,
      recovery?.stateDir === true ? restoreSeconds(recovery) : null,
      s,
    ),
    atMost(
      'full restore (no checkpoint) per 500,000 changelog records',
      3,
      restorePer500k(result.recoveryDynamic?.ok === true ? result.recoveryDynamic : null),
      s,
    ),
  );
  const churn = result.churn?.ok === true ? result.churn : null;
  checks.push(
    atLeast(
      `throughput with one of two members SIGKILLed every ${result.churn?.killEveryS ?? 10} s, of undisturbed`,
      0.7,
      churn?.ratio ?? null,
      pct,
    ),
  );
  const brokerKill = atMost(
    'stall while a broker is killed in the three-broker cluster (longest of the kills and the roll)',
    10,
    brokerKillStallS(result.cluster),
    s,
  );
  // A scenario that failed (the auditor found violations, or the stage did not drain) fails the target.
  checks.push(
    result.cluster?.error ? { ...brokerKill, verdict: 'miss', margin: result.cluster.error } : brokerKill,
  );
  checks.push({
    name: 'RSS flat over a 30-minute run',
    target: 'flat',
    value: '—',
    verdict: 'not measured',
    margin: 'measured by `npm run bench:soak` (30 minutes): bench/results/soak/latest.md',
  });
  return checks;
}
