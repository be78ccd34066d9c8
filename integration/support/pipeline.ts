/**
 * Running the real stage against the real broker: unique topics per test, workload production, the stage as a
 * child process (`eos-rollup run`), draining, and reading back what a read_committed consumer sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { avroType, type SchemaName } from '../../src/serde/schema-files.js';
import { RegistryUnavailableError } from '../../src/errors/errors.js';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { HEADER_LENGTH } from '../../src/serde/wire-format.js';
import { within } from '../../src/errors/deadline.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import type { HostInfo, MetricRollup, ServerMetric } from '../../src/domain/metric.js';
import type { TestEnvironment } from './environment.js';
import {
  producerPartitionOf,
  committedOffsets,
  createTopics,
  readAll,
  uniqueName,
  type ReadRecord,
} from './kafka.js';

export interface PipelineNames {
  appId: string;
  input: string;
  inventory: string;
  output: string;
  dlq: string;
  changelog: string;
}

/** A fresh pipeline's topic names, all derived from one unique application id. */
export function pipelineNames(prefix: string): PipelineNames {
  const appId = uniqueName(prefix);
  return {
    appId,
    input: `${appId}-metrics`,
    inventory: `${appId}-inventory`,
    output: `${appId}-rollups`,
    dlq: `${appId}-dlq`,
    changelog: `${appId}-rollup-state-changelog`,
  };
}

export async function createPipeline(kafka: Kafka, partitions: number): Promise<PipelineNames> {
  const names = pipelineNames('it-app');
  await createTopics(kafka, [
    { topic: names.input, partitions },
    { topic: names.inventory, partitions: 1 },
  ]);
  return names;
}

export interface ProducedRecord {
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** Writes raw records in order, batched, through one idempotent producer. */
/** The harness's plain input writer: idempotent, in order, never creating a topic. */
export function inputProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

export async function produceRaw(kafka: Kafka, topic: string, records: ProducedRecord[]): Promise<void> {
  const producer = inputProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 1000) {
      await producer.send({ topic, messages: records.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
}

export async function metricEncoder(
  env: TestEnvironment,
  topic: string,
  version: 'v1' | 'v2' = 'v2',
): Promise<AvroEncoder<ServerMetric>> {
  return registerForTest<ServerMetric>(env, topic, version === 'v1' ? 'serverMetricV1' : 'serverMetricV2');
}

/**
 * A test's input schemas, registered with a few more tries than the client's own: the registry under test load
 * sometimes leaves a request unanswered twice, and a test that cannot write its input proves nothing either way.
 */
async function registerForTest<T>(
  env: TestEnvironment,
  topic: string,
  schema: SchemaName,
): Promise<AvroEncoder<T>> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await AvroEncoder.register<T>(new RegistryClient({ url: env.registryUrl }), topic, schema);
    } catch (error) {
      if (!(error instanceof RegistryUnavailableError) || attempt === 3) throw error;
    }
  }
}

export async function loadInventory(
  env: TestEnvironment,
  kafka: Kafka,
  topic: string,
  hosts: HostInfo[],
): Promise<void> {
  const encoder = await registerForTest<HostInfo>(env, topic, 'hostInfo');
  await produceRaw(
    kafka,
    topic,
    hosts.map((h) => ({ partition: 0, key: Buffer.from(h.host), value: encoder.encode(h) })),
  );
}

export interface StageProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const MAIN = join(__dirname, '../../src/cli/main.js');

/** `command`: the script and its arguments, `eos-rollup run` unless a test runs another job (examples/). */
export function startStage(
  env: TestEnvironment,
  names: PipelineNames,
  extraEnv: Record<string, string> = {},
  command: readonly string[] = [MAIN, 'run'],
): StageProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', ...command], {
    env: {
      PATH: process.env.PATH,
      KAFKA_BROKERS: env.brokers,
      SCHEMA_REGISTRY_URL: env.registryUrl,
      APP_ID: names.appId,
      INPUT_TOPIC: names.input,
      INVENTORY_TOPIC: names.inventory,
      OUTPUT_TOPIC: names.output,
      DLQ_TOPIC: names.dlq,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      SESSION_TIMEOUT_MS: '6000',
      HEARTBEAT_INTERVAL_MS: '500',
      TOPIC_REPLICATION_FACTOR: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  // EOS_ROLLUP_TEST_LOG_DIR keeps every stage's full log for a post-mortem.
  const logDir = process.env.EOS_ROLLUP_TEST_LOG_DIR;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const logFile = logDir
    ? join(logDir, `${names.appId}-${extraEnv.INSTANCE_ID ?? String(child.pid)}.log`)
    : undefined;
  const keep = (chunk: Buffer) => {
    log += chunk.toString();
    if (logFile) appendFileSync(logFile, chunk);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    output: () => log,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** One poll's reads of ends and committed offsets: far beyond kafkajs's own timeouts and retries. */
const READ_DEADLINE_MS = 60_000;

/** Waits until the group's committed offsets reach the input's end (last stable) offsets on every partition. */
export async function waitForDrain(
  kafka: Kafka,
  names: PipelineNames,
  timeoutMs: number,
  stages: readonly StageProcess[] = [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [ends, committed] = await within(
      Promise.all([
        partitionRanges(kafka, names.input, 'read_committed'),
        committedOffsets(kafka, names.appId, names.input),
      ]),
      READ_DEADLINE_MS,
      `reading ${names.input}'s ends and ${names.appId}'s committed offsets`,
    );
    const behind = [...ends].filter(([p, r]) => BigInt(committed.get(p) ?? '-1') < r.end);
    if (behind.length === 0) return;
    for (const stage of stages) {
      if (stage.child.exitCode !== null)
        throw new Error(
          `stage exited with ${stage.child.exitCode} while draining:\n${stage.output().slice(-4000)}`,
        );
    }
    if (Date.now() > deadline) {
      const detail = behind
        .map(([p, r]) => `p${p} committed ${committed.get(p) ?? 'none'} < end ${r.end}`)
        .join(', ');
      throw new Error(
        `not drained after ${timeoutMs} ms: ${detail}\n${stages.map((s) => s.output().slice(-3000)).join('\n---\n')}`,
      );
    }
    await sleep(250);
  }
}

/** Partitions whose committed offset is not exactly the input's end (last stable) offset, one line each. */
export async function offsetsNotAtEnd(kafka: Kafka, names: PipelineNames): Promise<string[]> {
  const ends = await partitionRanges(kafka, names.input, 'read_committed');
  const committed = await committedOffsets(kafka, names.appId, names.input);
  return [...ends]
    .filter(([p, r]) => committed.get(p) !== r.end.toString())
    .map(([p, r]) => `partition ${p}: committed ${committed.get(p) ?? 'none'}, end ${r.end}`);
}

const rollupType = avroType('metricRollup');

export function decodeRollup(record: ReadRecord): MetricRollup {
  if (!record.value) throw new Error(`rollup at ${record.partition}/${record.offset} has no value`);
  return { ...(rollupType.fromBuffer(record.value.subarray(HEADER_LENGTH)) as MetricRollup) };
}

export async function readRollups(kafka: Kafka, topic: string): Promise<MetricRollup[]> {
  const { records, complete } = await readAll(kafka, topic);
  if (!complete) throw new Error(`read_committed did not reach the end of ${topic}`);
  return records.map(decodeRollup);
}

export interface ExpectedWindow {
  host: string;
  windowStart: number;
  count: number;
  cpuSum: number;
  cpuMin: number;
  cpuMax: number;
  memSum: number;
  diskRead: number;
  netTx: number;
}

/** The offline computation the stage must match: plain grouping, no streaming. */
export function expectedWindows(
  metrics: Iterable<ServerMetric>,
  windowMs: number,
): Map<string, ExpectedWindow> {
  const out = new Map<string, ExpectedWindow>();
  for (const m of metrics) {
    const windowStart = Math.floor(m.timestamp / windowMs) * windowMs;
    const key = `${m.host}@${windowStart}`;
    const w = out.get(key) ?? {
      host: m.host,
      windowStart,
      count: 0,
      cpuSum: 0,
      cpuMin: Infinity,
      cpuMax: -Infinity,
      memSum: 0,
      diskRead: 0,
      netTx: 0,
    };
    w.count += 1;
    w.cpuSum += m.cpu_percent;
    w.cpuMin = Math.min(w.cpuMin, m.cpu_percent);
    w.cpuMax = Math.max(w.cpuMax, m.cpu_percent);
    w.memSum += m.mem_percent;
    w.diskRead += m.disk_read_bytes;
    w.netTx += m.net_tx_bytes;
    out.set(key, w);
  }
  return out;
}

/** Differences between rollups and the offline computation; empty when exactly-once held. */
export function compareRollups(rollups: MetricRollup[], expected: Map<string, ExpectedWindow>): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const r of rollups) {
    const key = `${r.host}@${r.window_start}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const e = expected.get(key);
    if (!e) {
      problems.push(`unexpected rollup ${key}`);
      continue;
    }
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
    if (r.count !== e.count) problems.push(`${key}: count ${r.count} != ${e.count}`);
    if (!close(r.cpu_percent.sum, e.cpuSum))
      problems.push(`${key}: cpu sum ${r.cpu_percent.sum} != ${e.cpuSum}`);
    if (r.cpu_percent.min !== e.cpuMin || r.cpu_percent.max !== e.cpuMax)
      problems.push(`${key}: cpu min/max differ`);
    if (!close(r.mem_percent.sum, e.memSum))
      problems.push(`${key}: mem sum ${r.mem_percent.sum} != ${e.memSum}`);
    if (r.disk_read_bytes !== e.diskRead)
      problems.push(`${key}: disk read ${r.disk_read_bytes} != ${e.diskRead}`);
    if (r.net_tx_bytes !== e.netTx) problems.push(`${key}: net tx ${r.net_tx_bytes} != ${e.netTx}`);
  }
  for (const [key, times] of seen)
    if (times > 1) problems.push(`${key}: ${times} rollups, expected exactly one`);
  for (const key of expected.keys()) if (!seen.has(key)) problems.push(`missing rollup ${key}`);
  return problems;
}

export interface WorkloadRun {
  metrics: ServerMetric[];
  startMs: number;
}

/** Produces valid metrics keyed by host (Java-compatible partitioning), v1 and v2 writers alternating. */
export async function produceWorkload(
  env: TestEnvironment,
  kafka: Kafka,
  names: PipelineNames,
  partitions: number,
  workload: ServerMetric[],
): Promise<void> {
  const encode = await workloadEncoder(env, names, partitions);
  await produceRaw(kafka, names.input, workload.map(encode));
}

async function workloadEncoder(
  env: TestEnvironment,
  names: PipelineNames,
  partitions: number,
): Promise<(metric: ServerMetric, index: number) => ProducedRecord> {
  const v1 = await metricEncoder(env, names.input, 'v1');
  const v2 = await metricEncoder(env, names.input, 'v2');
  const partitionOf = producerPartitionOf(partitions);
  return (m, i) => ({
    partition: partitionOf(Buffer.from(m.host)),
    key: Buffer.from(m.host),
    value: (i % 2 ? v1 : v2).encode(m),
  });
}

/**
 * produceWorkload for a live trickle: the schemas are registered and the producer connected once, so each write is
 * one send and the trickle's pace is the caller's, not the set-up's.
 */
export async function workloadWriter(
  env: TestEnvironment,
  kafka: Kafka,
  names: PipelineNames,
  partitions: number,
): Promise<{ write(workload: ServerMetric[]): Promise<void>; close(): Promise<void> }> {
  const encode = await workloadEncoder(env, names, partitions);
  const producer = inputProducer(kafka);
  await producer.connect();
  return {
    write: async (workload) => {
      await producer.send({ topic: names.input, messages: workload.map(encode) });
    },
    close: () => producer.disconnect(),
  };
}

/** One far-future record per partition: every partition's stream time passes the last window's grace. */
export async function produceFlush(
  env: TestEnvironment,
  kafka: Kafka,
  names: PipelineNames,
  partitions: number,
  atMs: number,
): Promise<void> {
  const v2 = await metricEncoder(env, names.input, 'v2');
  const template: ServerMetric = {
    host: 'flush',
    timestamp: atMs,
    cpu_percent: 1,
    mem_percent: 1,
    disk_read_bytes: 0,
    disk_write_bytes: 0,
    net_rx_bytes: 0,
    net_tx_bytes: 0,
    load_avg_1m: null,
  };
  await produceRaw(
    kafka,
    names.input,
    Array.from({ length: partitions }, (_, p) => ({
      partition: p,
      key: Buffer.from(`flush-${p}`),
      value: v2.encode({ ...template, host: `flush-${p}` }),
    })),
  );
}

/** Waits until a stage's log matches `pattern`, or `timeoutMs` passes; callers assert on the log afterwards. */
export async function waitForLog(stage: StageProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(stage.output()) && Date.now() < deadline) await sleep(100);
}

/**
 * waitForDrain, tolerant of the client errors of a broker or cluster whose leadership is still moving (a broker
 * just restarted answers metadata before its partitions have leaders again, and kafkajs's admin does not retry
 * NOT_LEADER_FOR_PARTITION from ListOffsets). The harness's own failures (the stage exited, not drained in time)
 * are plain Errors and end the wait.
 */
export async function drainThroughClientErrors(
  kafka: Kafka,
  names: PipelineNames,
  stage: StageProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await waitForDrain(kafka, names, Math.max(1, deadline - Date.now()), [stage]);
      return;
    } catch (error) {
      const clientError = error instanceof Error && error.name.startsWith('KafkaJS');
      if (!clientError || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}
