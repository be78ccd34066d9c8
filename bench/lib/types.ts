/** The shape of bench/results/latest.json. Keys are listed in the order they are written. */

export const PEER_IDS = [
  'R0',
  'R1',
  'K1',
  'K1-ALO',
  'SUT-100ms',
  'SUT-1s',
  'SUT-ALO-1s',
  'S1-1s',
  'S1-100ms',
  'SUT-1s-2t',
  'S1-1s-2t',
] as const;
export type PeerId = (typeof PEER_IDS)[number];

/** One peer's figures in one round; null where a figure could not be measured. */
export interface RoundFigures {
  round: number;
  /** Position of this peer in its round (rounds rotate the order). */
  slot: number;
  ok: boolean;
  error: string | null;
  /**
   * The headline: sustained records per second from broker offsets (brokerRps), except for R0, whose whole read
   * of the input takes about a second (too few 250 ms samples) and whose own fetch rate is used instead.
   */
  throughputRps: number | null;
  /** Sustained records per second from broker offsets (first progress to zero lag). */
  brokerRps: number | null;
  /** Seconds the sustained interval lasted. */
  sustainedS: number | null;
  /** From process start to the first committed progress. */
  startupS: number | null;
  /** From process start to zero lag. */
  zeroLagS: number | null;
  /** CPU (user + system, all threads) per record over the sustained interval. */
  cpuUsPerRecord: number | null;
  /** CPU per record over the process's whole life (start-up included). */
  cpuUsPerRecordTotal: number | null;
  peakRssMb: number | null;
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  /** Transactions (or offset commits) the peer made in the run, where it reports them. */
  commits: number | null;
  /** The tool's own figure where it prints one (R0: fetch.nMsg.sec). */
  selfReportedRps: number | null;
}

export type FigureName = Exclude<keyof RoundFigures, 'round' | 'slot' | 'ok' | 'error'>;

export const FIGURE_NAMES: readonly FigureName[] = [
  'throughputRps',
  'brokerRps',
  'sustainedS',
  'startupS',
  'zeroLagS',
  'cpuUsPerRecord',
  'cpuUsPerRecordTotal',
  'peakRssMb',
  'commitP50Ms',
  'commitP99Ms',
  'commits',
  'selfReportedRps',
];

export type PeerMedians = Record<FigureName, number | null>;

export interface PeerResult {
  id: PeerId;
  label: string;
  /** What runs, in one sentence, with its settings. */
  description: string;
  /** What commitP50Ms / commitP99Ms measure for this peer. */
  commitLatencyMeaning: string | null;
  rounds: RoundFigures[];
  median: PeerMedians;
}

export interface LatencyResult {
  peer: PeerId;
  ok: boolean;
  error: string | null;
  ratePerSecond: number;
  seconds: number;
  windowMs: number;
  graceMs: number;
  commitIntervalMs: number;
  rollups: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface AuditVerdict {
  exitCode: number | null;
  verdict: 'clean' | 'violations' | 'not run';
  summary: string;
}

export interface RecoveryResult {
  ok: boolean;
  error: string | null;
  /** static: the restart has the same INSTANCE_ID with STATIC_MEMBERSHIP=true; dynamic: a new member. */
  membership: 'static' | 'dynamic';
  instances: number;
  sessionTimeoutMs: number;
  commitIntervalMs: number;
  ratePerSecond: number;
  /** The lag at or below which the run counts as steady: the highest lag seen in the 10 s before the kill. */
  steadyLagRecords: number | null;
  /** Each phase, from the SIGKILL. */
  rejoinS: number | null;
  restoreS: number | null;
  firstCommitS: number | null;
  caughtUpS: number | null;
  /** From the kill until the last partition's committed offset moved past its value at the kill. */
  longestPartitionStallS: number | null;
  /** Records the restart read from the changelog, and state entries it loaded from STATE_DIR checkpoints. */
  restoredRecords: number | null;
  restoredFromCheckpoint: number | null;
  /** The changelog's end offsets at the kill, summed: what a restore without a checkpoint reads. */
  changelogOffsetsAtKill: number | null;
  /** With STATE_DIR (the static run): restores read a checkpoint's tail. */
  stateDir: boolean;
  audit: AuditVerdict;
}

/**
 * Two static members drain the preloaded input twice: undisturbed, then with one of them SIGKILLed every
 * `killEveryS` seconds (taking turns) and restarted at once under the same INSTANCE_ID.
 */
export interface ChurnResult {
  ok: boolean;
  error: string | null;
  instances: number;
  killEveryS: number;
  sessionTimeoutMs: number;
  /** Sustained throughput (broker offsets) without kills, and with them. */
  steadyRps: number | null;
  churnRps: number | null;
  /** churnRps / steadyRps. */
  ratio: number | null;
  kills: number;
  /** The longest time the group's committed offsets stood still during the run with kills. */
  longestStandstillS: number | null;
  /** The run with kills, audited after it drained. */
  audit: AuditVerdict;
}

/** One cluster scenario of the test suite, as the bench's cluster phase read it (cluster-run.ts). */
export interface ClusterScenario {
  /** The test's name, without its file's prefix. */
  test: string;
  kind: 'kill' | 'roll' | 'pause';
  passed: boolean;
  /** The longest time, from the strike on, that the input's committed offsets stood still while input waited. */
  stallFromStrikeS: number | null;
  /** The auditor's violations on the drained run. */
  violations: number | null;
  /** The scenario's diagnostic line: the strike, Kafka's failover, the load, the auditor's counts. */
  detail: string;
}

export interface ClusterResult {
  ok: boolean;
  error: string | null;
  /** broker.session.timeout.ms of the clusters (the stack's `--brokers 3` setting). */
  brokerSessionTimeoutMs: number;
  scenarios: ClusterScenario[];
  elapsedS: number;
}

export interface Ratios {
  sut_over_s1: number | null;
  sut_over_r0: number | null;
  sut_over_r1: number | null;
  sut_over_k1: number | null;
  eos_tax_1s: number | null;
  /** The second core: SUT-1s-2t over S1-1s, and over S1-1s-2t (two threads each). */
  sut2t_over_s1: number | null;
  sut2t_over_s1_2t: number | null;
}

export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  verdict: 'pass' | 'miss' | 'not measured';
  /** How far from the target, e.g. "+12%" or "-0.08 below"; empty when not measured. */
  margin: string;
}

export interface BenchResult {
  schema: 1;
  generatedAt: string;
  machine: {
    cpuModel: string;
    cores: number;
    kafkaVersion: string;
    nodeVersion: string;
    javaVersion: string;
    gitCommit: string;
    /** src/, schemas/, patches/ or package.json differ from gitCommit (new files included). */
    gitDirty: boolean;
  };
  settings: {
    quick: boolean;
    rounds: number;
    records: number;
    partitions: number;
    hosts: number;
    stepMs: number;
    windowMs: number;
    graceMs: number;
    sessionTimeoutMs: number;
    broker: 'private' | 'shared';
    s1Heap: string;
  };
  workload: {
    records: number;
    avgPayloadBytes: number;
    preloadS: number;
    preloadRps: number;
    eventTimeSpanS: number;
  };
  ratios: Ratios;
  ratioDefinitions: Record<keyof Ratios, string>;
  targets: TargetCheck[];
  peers: PeerResult[];
  latency: LatencyResult[];
  /** The target run: static membership, the stage's default session timeout. */
  recovery: RecoveryResult | null;
  /** The same run with a dynamic member: what recovery cost before static membership. */
  recoveryDynamic: RecoveryResult | null;
  churn: ChurnResult | null;
  /** The broker-kill scenarios on three brokers; null when not run. */
  cluster: ClusterResult | null;
  elapsedS: number;
}
