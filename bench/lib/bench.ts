/**
 * One bench run, as numbered phases: (1) the workload, preloaded once; (2) an unrecorded warm-up read;
 * (3) interleaved rounds of every peer; (4) input-to-visible latency runs; (5) the recovery runs; (6) throughput
 * under churn; (7) the broker-kill scenarios on three brokers; then the result.
 * Each phase records a failure as a failed figure and lets the next one run.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { findJava } from '../../scripts/stack/java.js';
import { repoRoot } from '../../scripts/stack/paths.js';
import { acquireEnvironment } from './environment.js';
import { runLatency } from './latency-run.js';
import { clockTicksPerSecond, describeMachine } from './machine.js';
import { OffsetProbe } from './offsets.js';
import type { BenchOptions } from './options.js';
import { PEERS, type BenchContext, type RunNames } from './peers.js';
import { computeRatios, evaluateTargets, RATIO_DEFINITIONS, roundOrder, summarizePeer } from './ratios.js';
import { runChurn } from './churn-run.js';
import { brokerKillStallS, runClusterScenarios } from './cluster-run.js';
import { runRecovery } from './recovery-run.js';
import { round } from './stats.js';
import { runThroughput, type ThroughputRun, type ThroughputRunOptions } from './throughput-run.js';
import {
  FIGURE_NAMES,
  type BenchResult,
  type ChurnResult,
  type ClusterResult,
  type FigureName,
  type LatencyResult,
  type PeerId,
  type PeerResult,
  type RecoveryResult,
  type RoundFigures,
} from './types.js';
import { loadInventory, preloadInput, workloadStartMs, type PreloadResult } from './workload.js';

export type Log = (line: string) => void;

const POLL_MS = 250;
/** A peer whose committed offsets stand still this long (start-up included) has failed. */
const STALL_MS = 90_000;
export const S1_JAR = join('bench', 'streams', 'target', 'eos-rollup-streams-bench.jar');

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function slug(id: PeerId): string {
  return id.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

const show = (value: number | null, digits = 0): string => value?.toFixed(digits) ?? '-';

/** Everything the phases share. */
interface Run {
  options: Readonly<BenchOptions>;
  log: Log;
  kafka: Kafka;
  probe: OffsetProbe;
  context: BenchContext;
  inputTopic: string;
  /** The preloaded input's end offset: its record count. */
  inputEnd: number;
}

// ---------------------------------------------------------------------------------------------------------
// 1. The workload

async function preloadWorkload(
  options: Readonly<BenchOptions>,
  kafka: Kafka,
  probe: OffsetProbe,
  registryUrl: string,
  topics: { input: string; inventory: string },
  log: Log,
): Promise<PreloadResult> {
  await probe.createTopic(topics.inventory, options.partitions, [
    { name: 'cleanup.policy', value: 'compact' },
  ]);
  await loadInventory(kafka, registryUrl, topics.inventory, options.hosts);
  await probe.createTopic(topics.input, options.partitions);
  const spec = {
    records: options.records,
    partitions: options.partitions,
    hosts: options.hosts,
    stepMs: options.stepMs,
    seed: options.seed,
  };
  log(`preloading ${options.records} records over ${options.partitions} partitions, ${options.hosts} hosts…`);
  const preload = await preloadInput(
    kafka,
    registryUrl,
    topics.input,
    spec,
    workloadStartMs(spec, options.windowMs, Date.now()),
  );
  const bytes = (preload.payloadBytes / preload.records).toFixed(0);
  log(
    `preloaded ${preload.records} records (${bytes} bytes key + value) in ${(preload.elapsedMs / 1000).toFixed(1)} s`,
  );
  return preload;
}

// ---------------------------------------------------------------------------------------------------------
// 2 and 3. Warm-up and interleaved rounds

/** A run that threw: recorded as a failed round, so one broken peer does not end the bench. */
function failedRun(error: unknown): ThroughputRun {
  const figures = Object.fromEntries(FIGURE_NAMES.map((name) => [name, null])) as Record<FigureName, null>;
  return { figures: { ...figures, ok: false, error: messageOf(error) }, samples: [], topics: [] };
}

function runNames(run: Run, id: PeerId | 'warmup', roundNumber: number): RunNames {
  const appId = `${run.context.tag}-${id === 'warmup' ? 'warmup' : slug(id)}-r${roundNumber}`;
  return {
    appId,
    inputTopic: run.inputTopic,
    inputRecords: run.inputEnd,
    logFile: join(run.context.logDir, `${id}-r${roundNumber}.log`),
  };
}

async function throughputRounds(run: Run, shared: boolean): Promise<PeerResult[]> {
  const { options, log, probe } = run;
  const runOptions: ThroughputRunOptions = {
    pollMs: POLL_MS,
    timeoutMs: options.peerTimeoutSeconds * 1000,
    stallMs: STALL_MS,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
  const measure = (id: PeerId, names: RunNames): Promise<ThroughputRun> =>
    runThroughput(PEERS[id], run.context, names, probe, run.inputEnd, runOptions).catch(failedRun);

  // The warm-up brings the input into the page cache and the broker's fetch path up to speed, so the first
  // measured peer does not pay for it.
  if (options.warmUp) {
    log('warm-up: one unrecorded R0 pass');
    await measure('R0', runNames(run, 'warmup', 0));
  }
  const rounds = new Map<PeerId, RoundFigures[]>(options.peers.map((id) => [id, []]));
  for (let roundNumber = 1; roundNumber <= options.rounds; roundNumber++) {
    for (const [slot, id] of roundOrder(options.peers, roundNumber).entries()) {
      log(`round ${roundNumber}/${options.rounds}: ${id}`);
      const result = await measure(id, runNames(run, id, roundNumber));
      rounds.get(id)?.push({ round: roundNumber, slot: slot + 1, ...result.figures });
      const f = result.figures;
      log(
        `  ${id}: ${show(f.throughputRps)} records/s, ${show(f.cpuUsPerRecord, 1)} µs CPU/record, ` +
          `peak RSS ${show(f.peakRssMb)} MB, zero lag after ${show(f.zeroLagS, 1)} s${f.error ? `; ${f.error}` : ''}`,
      );
      // On the shared broker each run's topics go at once; a private broker goes with its directory.
      if (shared) await probe.deleteTopics(result.topics).catch(() => undefined);
    }
  }
  return options.peers.map((id) => summarizePeer(PEERS[id], rounds.get(id) ?? []));
}

// ---------------------------------------------------------------------------------------------------------
// 4. Latency

function failedLatency(peer: PeerId, ratePerSecond: number, seconds: number, error: unknown): LatencyResult {
  return {
    peer,
    ok: false,
    error: messageOf(error),
    ratePerSecond,
    seconds,
    windowMs: 1000,
    graceMs: 0,
    commitIntervalMs: peer.endsWith('100ms') ? 100 : 1000,
    rollups: 0,
    p50Ms: null,
    p99Ms: null,
    maxMs: null,
  };
}

/** Half the peer's median sustained rate, within quick mode's cap. */
function liveRate(options: Readonly<BenchOptions>, sustainedRps: number): number {
  return Math.max(1, Math.min(options.liveRateCap, Math.round(sustainedRps / 2)));
}

async function latencyRuns(run: Run, peers: readonly PeerResult[]): Promise<LatencyResult[]> {
  const { options, log } = run;
  const results: LatencyResult[] = [];
  if (options.latencySeconds <= 0) return results;
  for (const id of options.latencyPeers.filter((p) => options.peers.includes(p))) {
    const sustained = peers.find((p) => p.id === id)?.median.throughputRps ?? null;
    if (sustained === null) continue;
    const ratePerSecond = liveRate(options, sustained);
    log(`latency run: ${id} at ${ratePerSecond} records/s for ${options.latencySeconds} s`);
    const result = await runLatency(PEERS[id], run.context, run.kafka, run.probe, {
      ratePerSecond,
      seconds: options.latencySeconds,
      hosts: options.latencyHosts,
      appId: `${run.context.tag}-lat-${slug(id)}`,
      logFile: join(run.context.logDir, `${id}-latency.log`),
    }).catch((error: unknown) => failedLatency(id, ratePerSecond, options.latencySeconds, error));
    log(
      `  ${id}: p50 ${show(result.p50Ms)} ms, p99 ${show(result.p99Ms)} ms over ${result.rollups} rollups${result.error ? `; ${result.error}` : ''}`,
    );
    results.push(result);
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------
// 5. Recovery

function failedRecovery(
  options: Readonly<BenchOptions>,
  membership: RecoveryResult['membership'],
  ratePerSecond: number,
  error: unknown,
): RecoveryResult {
  return {
    ok: false,
    error: messageOf(error),
    membership,
    instances: 1,
    sessionTimeoutMs: options.recoverySessionTimeoutMs,
    commitIntervalMs: 1000,
    ratePerSecond,
    steadyLagRecords: null,
    rejoinS: null,
    restoreS: null,
    firstCommitS: null,
    caughtUpS: null,
    longestPartitionStallS: null,
    restoredRecords: null,
    restoredFromCheckpoint: null,
    changelogOffsetsAtKill: null,
    stateDir: membership === 'static',
    audit: { exitCode: null, verdict: 'not run', summary: '' },
  };
}

/** An empty STATE_DIR of the run's own. */
function stateDirFor(logDir: string, name: string): string {
  const dir = join(logDir, `state-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The target run (static membership) and, for comparison, the same kill with a dynamic member. */
async function recoveryPhase(
  run: Run,
  peers: readonly PeerResult[],
): Promise<{ recovery: RecoveryResult | null; recoveryDynamic: RecoveryResult | null }> {
  const { options, log } = run;
  const median = (id: PeerId): number | null => peers.find((p) => p.id === id)?.median.throughputRps ?? null;
  const sustained = median('SUT-1s') ?? median('SUT-100ms');
  if (options.recoverySeconds <= 0 || sustained === null) return { recovery: null, recoveryDynamic: null };
  const ratePerSecond = options.recoveryRate ?? liveRate(options, sustained);
  const once = async (membership: RecoveryResult['membership']): Promise<RecoveryResult> => {
    log(
      `recovery run (${membership} member, session timeout ${options.recoverySessionTimeoutMs / 1000} s): SUT-1s under ${ratePerSecond} records/s, SIGKILL after ${options.recoverySeconds} s of steady state`,
    );
    const recovery = await runRecovery(run.context, run.kafka, run.probe, {
      membership,
      sessionTimeoutMs: options.recoverySessionTimeoutMs,
      ratePerSecond,
      loadSeconds: options.recoverySeconds,
      hosts: options.hosts,
      appId: `${run.context.tag}-recovery-${membership}`,
      logDir: run.context.logDir,
      // The static member is a StatefulSet pod with a volume; the dynamic one, as before, has neither.
      stateDir: membership === 'static' ? stateDirFor(run.context.logDir, membership) : undefined,
      log,
    }).catch((error: unknown) => failedRecovery(options, membership, ratePerSecond, error));
    log(
      `  rejoin ${show(recovery.rejoinS, 1)} s, restore ${show(recovery.restoreS, 1)} s, first commit ${show(recovery.firstCommitS, 1)} s, ` +
        `longest partition stall ${show(recovery.longestPartitionStallS, 1)} s, caught up ${show(recovery.caughtUpS, 1)} s; ` +
        `audit ${recovery.audit.verdict}${recovery.error ? `; ${recovery.error}` : ''}`,
    );
    return recovery;
  };
  return { recovery: await once('static'), recoveryDynamic: await once('dynamic') };
}

// ---------------------------------------------------------------------------------------------------------
// 6. Throughput under churn

async function churnPhase(run: Run): Promise<ChurnResult | null> {
  const { options, log } = run;
  if (options.churnEverySeconds <= 0 || !options.peers.includes('SUT-1s')) return null;
  log(
    `churn run: two static members drain the input, undisturbed and then with a SIGKILL every ${options.churnEverySeconds} s`,
  );
  const churn = await runChurn(run.context, run.probe, {
    killEveryS: options.churnEverySeconds,
    sessionTimeoutMs: options.recoverySessionTimeoutMs,
    appId: `${run.context.tag}-churn`,
    inputTopic: run.inputTopic,
    inputEnd: run.inputEnd,
    logDir: run.context.logDir,
    timeoutMs: options.peerTimeoutSeconds * 1000,
    log,
  });
  log(
    `  ${show(churn.churnRps)} against ${show(churn.steadyRps)} records/s (${show(churn.ratio, 2)}), ${churn.kills} kills, ` +
      `longest standstill ${show(churn.longestStandstillS, 1)} s; audit ${churn.audit.verdict}${churn.error ? `; ${churn.error}` : ''}`,
  );
  return churn;
}

// ---------------------------------------------------------------------------------------------------------
// 7. Broker kills on three brokers

async function clusterPhase(run: Run): Promise<ClusterResult | null> {
  const { options, log } = run;
  if (!options.cluster) return null;
  log('cluster scenarios: three-node clusters, a node struck under load in each, every run audited');
  const cluster = await runClusterScenarios(run.context, {
    logDir: run.context.logDir,
    timeoutMs: 30 * 60_000,
    log,
  });
  const error = cluster.error ? `; ${cluster.error}` : '';
  log(
    `  longest stall of a kill or roll ${show(brokerKillStallS(cluster), 1)} s over ${cluster.scenarios.length} scenarios in ${cluster.elapsedS} s${error}`,
  );
  return cluster;
}

// ---------------------------------------------------------------------------------------------------------
// The run

/** Builds the S1 jar when it is missing (the first run on a fresh clone). */
export type EnsureJar = (root: string) => void;

export async function runBench(
  options: Readonly<BenchOptions>,
  log: Log,
  ensureS1Jar: EnsureJar,
): Promise<BenchResult> {
  const started = Date.now();
  const root = repoRoot();
  const logDir = join(resolve(root, options.outDir), 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  if (options.peers.some((id) => id.startsWith('S1'))) ensureS1Jar(root);
  const java = findJava(17);
  // Described before anything runs: the commit and the tree measured are those of the start, whatever is
  // committed or edited while the run lasts.
  const machine = describeMachine(root, java.bin);

  const environment = await acquireEnvironment(options.sharedBroker, log, join(logDir, 'private-broker.log'));
  const shared = environment.broker === 'shared';
  // Its errors reach the bench as exceptions; kafkajs' own log of them (a retried metadata call) is noise here.
  const kafka = new Kafka({
    clientId: 'eos-rollup-bench',
    brokers: [environment.brokers],
    logLevel: logLevel.NOTHING,
  });
  const probe = await OffsetProbe.connect(kafka);
  const tag = `bench-${Date.now().toString(36)}`;
  try {
    log(`broker ${environment.brokers} (${environment.broker}), registry ${environment.registryUrl}`);
    const topics = { input: `${tag}-input`, inventory: `${tag}-inventory` };
    const context: BenchContext = {
      root,
      brokers: environment.brokers,
      registryUrl: environment.registryUrl,
      inventoryTopic: topics.inventory,
      partitions: options.partitions,
      windowMs: options.windowMs,
      graceMs: options.graceMs,
      sessionTimeoutMs: options.sessionTimeoutMs,
      logDir,
      tag,
      s1Jar: join(root, S1_JAR),
      s1Java: java.bin,
      s1Heap: options.s1Heap,
    };
    const preload = await preloadWorkload(options, kafka, probe, environment.registryUrl, topics, log);
    const run: Run = {
      options,
      log,
      kafka,
      probe,
      context,
      inputTopic: topics.input,
      inputEnd: await probe.endOffset(topics.input),
    };
    const peers = await throughputRounds(run, shared);
    const latency = await latencyRuns(run, peers);
    const { recovery, recoveryDynamic } = await recoveryPhase(run, peers);
    const churn = await churnPhase(run);
    const cluster = await clusterPhase(run);

    const result: BenchResult = {
      schema: 1,
      generatedAt: new Date().toISOString(),
      machine,
      settings: {
        quick: options.quick,
        rounds: options.rounds,
        records: options.records,
        partitions: options.partitions,
        hosts: options.hosts,
        stepMs: options.stepMs,
        windowMs: options.windowMs,
        graceMs: options.graceMs,
        sessionTimeoutMs: options.sessionTimeoutMs,
        broker: environment.broker,
        s1Heap: options.s1Heap,
      },
      workload: {
        records: preload.records,
        avgPayloadBytes: round(preload.payloadBytes / preload.records) ?? 0,
        preloadS: round(preload.elapsedMs / 1000) ?? 0,
        preloadRps: round(preload.records / (preload.elapsedMs / 1000)) ?? 0,
        eventTimeSpanS: round((preload.lastEventMs - preload.firstEventMs) / 1000) ?? 0,
      },
      ratios: computeRatios(peers),
      ratioDefinitions: RATIO_DEFINITIONS,
      targets: [],
      peers,
      latency,
      recovery,
      recoveryDynamic,
      churn,
      cluster,
      elapsedS: 0,
    };
    result.targets = evaluateTargets(result);
    result.elapsedS = round((Date.now() - started) / 1000) ?? 0;
    return result;
  } finally {
    // Whatever this run left on a shared broker goes: every topic and group it named starts with the tag.
    if (shared) await probe.deleteEverything(`${tag}-`).catch(() => undefined);
    await probe.close().catch(() => undefined);
    await environment.release();
  }
}
