/**
 * The peers: what each one runs, with which settings, and the figures only it can give (its commit latencies,
 * its own counters). Each run gets a fresh group / application id and fresh output topics, so it reads the
 * preloaded input from offset 0 and writes to empty topics.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../scripts/stack/local-stack.js';
import { VARIABLE_SPECS } from '../../src/config/variables.js';
import { Child } from './children.js';
import { histogramQuantile, readHistogram, readTotal } from './prometheus.js';
import { isS1Started, parseK1Totals, parseR0Output, parseS1Lines, parseStageLog } from './peer-output.js';
import type { PeerId, RoundFigures } from './types.js';

export interface BenchContext {
  root: string;
  brokers: string;
  registryUrl: string;
  inventoryTopic: string;
  partitions: number;
  windowMs: number;
  graceMs: number;
  sessionTimeoutMs: number;
  logDir: string;
  /** Prefix of every group, application id and topic of this bench run. */
  tag: string;
  s1Jar: string;
  s1Java: string;
  s1Heap: string;
}

/** What one run of a peer reads and is called. */
export interface RunNames {
  /** Group id (and application id / transactional-id prefix). */
  appId: string;
  inputTopic: string;
  /** Records the input holds: R0 stops after reading that many. */
  inputRecords: number;
  logFile: string;
}

export interface Launched {
  child: Child;
  groupId: string;
  /** Read after zero lag, while the process still runs. */
  beforeStop: () => Promise<Partial<RoundFigures>>;
  /** Read once the process has exited (what it printed). */
  afterExit: () => Partial<RoundFigures>;
  /** Topics this run created, deleted afterwards on a shared broker. */
  topics: string[];
}

export interface PeerDefinition {
  id: PeerId;
  label: string;
  description: string;
  commitLatencyMeaning: string | null;
  /** Where the headline throughput comes from: broker offsets, or the tool's own figure (R0). */
  throughputFrom: 'broker' | 'self';
  /**
   * R0 stops by itself once it has read the input, and prints its figures then: it is waited for, not stopped,
   * since its offsets reach the end (zero lag) a moment before it prints.
   */
  exitsByItself: boolean;
  /** A stdout line that says the peer is up and processing (live runs start their load after it). */
  isReadyLine: (line: string) => boolean;
  /** Topics to create before the start (peers that expect their output topic to exist). */
  outputTopics: (names: RunNames) => string[];
  launch: (context: BenchContext, names: RunNames, extra?: LaunchExtras) => Promise<Launched>;
}

/** A promise that settles on the first stdout line the peer calls ready, for LaunchExtras.onLine. */
export function readyWatch(peer: PeerDefinition): { ready: Promise<void>; onLine: (line: string) => void } {
  let resolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    ready,
    onLine: (line) => {
      if (peer.isReadyLine(line)) resolve();
    },
  };
}

/** Waits for `ready`, failing if the child exits first or `timeoutMs` passes. */
export async function waitUntilReady(
  launched: Launched,
  ready: Promise<void>,
  timeoutMs: number,
): Promise<void> {
  const cancel = new AbortController();
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    launched.child.exited.then(() => 'exited' as const),
    sleep(timeoutMs, 'timeout' as const, { signal: cancel.signal }).catch(() => 'timeout' as const),
  ]);
  cancel.abort();
  if (outcome === 'exited') throw new Error(`${launched.child.name} exited before it was ready`);
  if (outcome === 'timeout') throw new Error(`${launched.child.name} not ready after ${timeoutMs / 1000} s`);
}

/** For the latency and recovery runs: more environment, and a look at each stdout line. */
export interface LaunchExtras {
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string, atMs: number) => void;
}

/**
 * The bench's environment without any of the stage's variables: a COMMIT_MAX_RECORDS or EOS_ROLLUP_FAULT left in
 * the caller's shell must not change what is measured ("other settings at their defaults").
 */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(VARIABLE_SPECS)) Reflect.deleteProperty(env, name);
  return env;
}

/** The stage's changelog topic for APP_ID `appId` (src/config/config.ts derives it the same way). */
export function changelogTopic(appId: string): string {
  return `${appId}-rollup-state-changelog`;
}

export function stageEnv(
  context: BenchContext,
  names: RunNames,
  commitIntervalMs: number,
): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(),
    KAFKA_BROKERS: context.brokers,
    SCHEMA_REGISTRY_URL: context.registryUrl,
    APP_ID: names.appId,
    INPUT_TOPIC: names.inputTopic,
    INVENTORY_TOPIC: context.inventoryTopic,
    OUTPUT_TOPIC: `${names.appId}-out`,
    DLQ_TOPIC: `${names.appId}-dlq`,
    WINDOW_MS: String(context.windowMs),
    GRACE_MS: String(context.graceMs),
    COMMIT_INTERVAL_MS: String(commitIntervalMs),
    SESSION_TIMEOUT_MS: String(context.sessionTimeoutMs),
    HEARTBEAT_INTERVAL_MS: String(Math.floor(context.sessionTimeoutMs / 3)),
  };
}

/** Collects stdout lines for a parser run after exit. */
function lineCollector(): { lines: string[]; onLine: (line: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    onLine: (line) => {
      lines.push(line);
    },
  };
}

/** The JDK home of a `<home>/bin/java` path; the current JAVA_HOME for a bare `java` from the PATH. */
function javaHome(javaBin: string): string | undefined {
  return javaBin.endsWith('/bin/java') ? dirname(dirname(javaBin)) : process.env.JAVA_HOME;
}

const nothing = (): Promise<Partial<RoundFigures>> => Promise.resolve({});

// ---------------------------------------------------------------------------------------------------------

const r0: PeerDefinition = {
  id: 'R0',
  label: 'R0 raw read ceiling',
  description:
    "Kafka's kafka-consumer-perf-test (Java consumer, JVM -Xmx512m) reading every input record, isolation.level=read_committed; its throughput is the tool's own fetch.nMsg.sec (records over fetch time, group join excluded), because the whole read takes about a second; offsets are auto-committed every 250 ms, so the broker-sampled figure is there as a cross-check.",
  commitLatencyMeaning: null,
  throughputFrom: 'self',
  exitsByItself: true,
  isReadyLine: () => false,
  outputTopics: () => [],
  launch: (context, names) => {
    const configFile = join(context.logDir, `${names.appId}.properties`);
    writeFileSync(
      configFile,
      ['isolation.level=read_committed', 'enable.auto.commit=true', 'auto.commit.interval.ms=250', ''].join(
        '\n',
      ),
    );
    const out = lineCollector();
    const child = Child.start(
      'R0',
      join(context.root, 'scripts', 'kafka-tool'),
      [
        'kafka-consumer-perf-test',
        '--bootstrap-server',
        context.brokers,
        '--topic',
        names.inputTopic,
        '--messages',
        String(names.inputRecords),
        '--group',
        names.appId,
        '--consumer.config',
        configFile,
        '--timeout',
        '60000',
      ],
      {
        logFile: names.logFile,
        onLine: out.onLine,
        // The same JVM as S1's, so the two Java peers differ only in what they run.
        env: { ...process.env, KAFKA_BROKERS: context.brokers, JAVA_HOME: javaHome(context.s1Java) },
      },
    );
    return Promise.resolve({
      child,
      groupId: names.appId,
      beforeStop: nothing,
      afterExit: () => ({ selfReportedRps: parseR0Output(out.lines) }),
      topics: [],
    });
  },
};

function k1(id: 'R1' | 'K1' | 'K1-ALO'): PeerDefinition {
  const exactlyOnce = id === 'K1';
  const mode = id === 'R1' ? 'decode' : exactlyOnce ? 'eos' : 'alo';
  return {
    id,
    label:
      id === 'R1'
        ? 'R1 kafkajs read + Avro decode'
        : exactlyOnce
          ? 'K1 naive kafkajs EOS pipe'
          : 'K1-ALO same pipe, at-least-once',
    description:
      id === 'R1'
        ? 'bench/k1-naive-pipe.ts with K1_MODE=decode: kafkajs eachBatch read_committed, decode every record with @kafkajs/confluent-schema-registry, commitOffsets per batch; no enrichment, no output: the decode ceiling of a Node stage.'
        : exactlyOnce
          ? 'bench/k1-naive-pipe.ts: kafkajs eachBatch, decode with @kafkajs/confluent-schema-registry, enrich from an in-memory Map, one JSON record per input, one transaction per batch (send + sendOffsets + commit).'
          : 'bench/k1-naive-pipe.ts with K1_MODE=alo: the same pipe with an idempotent send and consumer.commitOffsets per batch instead of a transaction.',
    commitLatencyMeaning: null,
    throughputFrom: 'broker',
    exitsByItself: false,
    isReadyLine: () => false,
    outputTopics: (names) => [`${names.appId}-out`],
    launch: (context, names) => {
      const out = lineCollector();
      const child = Child.start(
        id,
        process.execPath,
        [join(context.root, 'dist', 'bench', 'k1-naive-pipe.js')],
        {
          logFile: names.logFile,
          onLine: out.onLine,
          env: {
            ...cleanEnv(),
            KAFKA_BROKERS: context.brokers,
            SCHEMA_REGISTRY_URL: context.registryUrl,
            APP_ID: names.appId,
            INPUT_TOPIC: names.inputTopic,
            INVENTORY_TOPIC: context.inventoryTopic,
            OUTPUT_TOPIC: `${names.appId}-out`,
            SESSION_TIMEOUT_MS: String(context.sessionTimeoutMs),
            K1_MODE: mode,
            KAFKAJS_NO_PARTITIONER_WARNING: '1',
          },
        },
      );
      return Promise.resolve({
        child,
        groupId: names.appId,
        beforeStop: nothing,
        afterExit: () => ({ commits: parseK1Totals(out.lines)?.batches ?? null }),
        topics: [`${names.appId}-out`],
      });
    },
  };
}

/** The stage's /metrics text, or undefined if it does not answer within 5 s. */
export async function scrape(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Commit latency and transaction count from one scrape of the stage's /metrics. */
export function stageCommitFigures(metrics: string | undefined): Partial<RoundFigures> {
  if (metrics === undefined) return {};
  const histogram = readHistogram(metrics, 'eos_rollup_commit_latency_seconds');
  const toMs = (seconds: number | null): number | null => (seconds === null ? null : seconds * 1000);
  return {
    commitP50Ms: histogram ? toMs(histogramQuantile(histogram, 0.5)) : null,
    commitP99Ms: histogram ? toMs(histogramQuantile(histogram, 0.99)) : null,
    commits: readTotal(metrics, 'eos_rollup_transactions_committed_total'),
  };
}

export const STAGE_COMMIT_MEANING =
  'eos_rollup_commit_latency_seconds (one committed transaction: schema lookups, processing of the records not processed as they joined, sends, sendOffsets, commit), quantiles interpolated in its buckets (5, 10, 25, 50, 100, 250, 500, 1000 ms …)';

function sut(
  id: 'SUT-100ms' | 'SUT-1s' | 'SUT-ALO-1s' | 'SUT-1s-2t',
  commitIntervalMs: number,
  guarantee: 'exactly_once' | 'at_least_once',
  streamThreads = 1,
): PeerDefinition {
  const interval = commitIntervalMs === 1000 ? '1 s' : `${commitIntervalMs} ms`;
  const exactlyOnce = guarantee === 'exactly_once';
  const threads = streamThreads === 1 ? '' : `, STREAM_THREADS=${streamThreads}`;
  return {
    id,
    label: `SUT eos-rollup, ${exactlyOnce ? '' : 'at-least-once, '}${interval} commits${threads}`,
    description: `node dist/src/cli/main.js run, one instance${threads}, PROCESSING_GUARANTEE=${guarantee}${exactlyOnce ? '' : ' (the same tasks without transactions: idempotent sends, then the group’s offset commit)'}, COMMIT_INTERVAL_MS=${commitIntervalMs}, other settings at their defaults (COMMIT_MAX_RECORDS 20000).`,
    commitLatencyMeaning: STAGE_COMMIT_MEANING,
    throughputFrom: 'broker',
    exitsByItself: false,
    // Every assigned task restored and running.
    isReadyLine: (line) => parseStageLog(line)?.msg === 'assignment settled',
    outputTopics: () => [],
    launch: async (context, names, extra = {}) => {
      const port = await freePort();
      const child = Child.start(
        id,
        process.execPath,
        [join(context.root, 'dist', 'src', 'cli', 'main.js'), 'run'],
        {
          logFile: names.logFile,
          env: {
            ...stageEnv(context, names, commitIntervalMs),
            PROCESSING_GUARANTEE: guarantee,
            STREAM_THREADS: String(streamThreads),
            METRICS_PORT: String(port),
            INSTANCE_ID: `${names.appId}-1`,
            ...extra.env,
          },
          ...(extra.onLine ? { onLine: extra.onLine } : {}),
        },
      );
      return {
        child,
        groupId: names.appId,
        beforeStop: async () => stageCommitFigures(await scrape(port)),
        afterExit: () => ({}),
        topics: [`${names.appId}-out`, `${names.appId}-dlq`, changelogTopic(names.appId)],
      };
    },
  };
}

function s1(
  id: 'S1-1s' | 'S1-100ms' | 'S1-1s-2t',
  commitIntervalMs: number,
  streamThreads = 1,
): PeerDefinition {
  return {
    id,
    label: `S1 Kafka Streams exactly_once_v2, ${commitIntervalMs === 1000 ? '1 s' : `${commitIntervalMs} ms`} commits${streamThreads === 1 ? '' : `, ${streamThreads} stream threads`}`,
    description: `bench/streams (Kafka Streams 4.1.1, exactly_once_v2, ${streamThreads === 1 ? 'one stream thread' : `NUM_STREAM_THREADS=${streamThreads}`}, inventory as a GlobalKTable, RocksDB stores, 10 MB cache): group by host, tumbling window with grace, aggregate, suppress until the window closes; COMMIT_INTERVAL_MS=${commitIntervalMs}.`,
    commitLatencyMeaning:
      'each transaction commit as S1 times it (sendOffsetsToTransaction to the end of commitTransaction; the cache and store flush before it is not included)',
    throughputFrom: 'broker',
    exitsByItself: false,
    isReadyLine: isS1Started,
    outputTopics: () => [],
    launch: (context, names, extra = {}) => {
      const out = lineCollector();
      const child = Child.start(id, context.s1Java, [`-Xmx${context.s1Heap}`, '-jar', context.s1Jar], {
        logFile: names.logFile,
        onLine: (line, atMs) => {
          out.onLine(line);
          extra.onLine?.(line, atMs);
        },
        env: {
          ...stageEnv(context, names, commitIntervalMs),
          NUM_STREAM_THREADS: String(streamThreads),
          ...extra.env,
        },
      });
      return Promise.resolve({
        child,
        groupId: names.appId,
        beforeStop: () => {
          const stats = parseS1Lines(out.lines);
          return Promise.resolve({
            commitP50Ms: stats.commitP50Ms,
            commitP99Ms: stats.commitP99Ms,
            commits: stats.commits,
          });
        },
        afterExit: () => ({}),
        topics: [`${names.appId}-out`],
      });
    },
  };
}

export const PEERS: Record<PeerId, PeerDefinition> = {
  R0: r0,
  R1: k1('R1'),
  K1: k1('K1'),
  'K1-ALO': k1('K1-ALO'),
  'SUT-100ms': sut('SUT-100ms', 100, 'exactly_once'),
  'SUT-1s': sut('SUT-1s', 1000, 'exactly_once'),
  'SUT-ALO-1s': sut('SUT-ALO-1s', 1000, 'at_least_once'),
  'S1-1s': s1('S1-1s', 1000),
  'S1-100ms': s1('S1-100ms', 100),
  'SUT-1s-2t': sut('SUT-1s-2t', 1000, 'exactly_once', 2),
  'S1-1s-2t': s1('S1-1s-2t', 1000, 2),
};
