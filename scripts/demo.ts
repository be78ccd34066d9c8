#!/usr/bin/env node
/**
 * `npm run demo`: eos-rollup end to end, for a newcomer.
 *
 *  1. Uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL when set, else starts the local stack (and stops it at the end).
 *  2. Creates fresh demo topics (3 partitions) and loads examples/inventory.csv, with the real CLI commands.
 *  3. Produces ~20,000 metrics of 100 hosts over several 60 s windows, ~1% of them poison pills.
 *  4. Starts the stage as a child process and prints rollups as their transactions commit.
 *  5. Produces a short burst two minutes later in event time, so every earlier window closes.
 *  6. Waits until the stage's committed offsets reach the end of the input, stops it with SIGTERM (exit 0 expected)
 *     and prints a summary read back with read_committed: records in, rollups out, dead letters by reason, and
 *     whether every (host, window) came out exactly once with the count computed offline from the seed.
 *
 * Ctrl-C stops the children (and the stack, if this script started it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import { planRecords, type ProduceOptions } from '../src/cli/commands/produce.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { DLQ_HEADERS } from '../src/engine/dead-letter.js';
import type { MetricRollup } from '../src/domain/metric.js';
import { createKafka } from '../src/kafka/client/client.js';
import { partitionRanges } from '../src/kafka/client/offsets.js';
import { readToEnd } from '../src/kafka/client/topic-reader.js';
import { avroType } from '../src/serde/schema-files.js';
import { HEADER_LENGTH } from '../src/serde/wire-format.js';
import { down, freePort, up, type StackAddresses } from './stack/local-stack.js';
import { repoRoot } from './stack/paths.js';

const CLI = join(__dirname, '..', 'src', 'cli', 'main.js');
const PARTITIONS = 3;
const HOSTS = 100;
const RECORDS = 20_000;
const STEP_MS = 1000;
const WINDOW_MS = 60_000;
const GRACE_MS = 10_000;
const SHOWN_ROLLUPS = 10;
const CATCH_UP_TIMEOUT_MS = 180_000;

type Workload = Omit<ProduceOptions, 'ratePerSecond'>;

function produceArgs(w: Workload): string[] {
  return [
    'produce',
    ...['--count', String(w.count), '--hosts', String(w.hosts), '--seed', String(w.seed)],
    ...['--poison-ratio', String(w.poisonRatio), '--v1-ratio', String(w.v1Ratio)],
    ...['--start-ms', String(w.startMs), '--step-ms', String(w.stepMs)],
  ];
}

const say = (line: string): void => {
  console.log(line);
};
const step = (title: string): void => {
  say(`\n== ${title}`);
};

// ---------------------------------------------------------------------------------------------------------
// Cleanup: whatever was started is stopped, on success, failure or Ctrl-C

const cleanups: (() => Promise<void>)[] = [];
const children = new Set<ChildProcess>();

async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

function killChildrenNow(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

let isInterrupted = false;

function onInterrupt(): void {
  isInterrupted = true;
  say('\ninterrupted: cleaning up (Ctrl-C again to exit at once)');
  process.once('SIGINT', () => {
    killChildrenNow();
    process.exit(130);
  });
  void cleanUp().finally(() => process.exit(130));
}

// ---------------------------------------------------------------------------------------------------------
// Child processes: the real eos-rollup command

/**
 * Spawned in their own process group, so Ctrl-C reaches only this script, which then stops each child once
 * with SIGTERM instead of the terminal and this script signalling it twice.
 */
function spawnCli(args: string[], env: NodeJS.ProcessEnv, label: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  prefixLines(child.stdout, `  ${label} | `, false);
  prefixLines(child.stderr, `  ${label} ! `, true);
  return child;
}

function prefixLines(stream: NodeJS.ReadableStream, prefix: string, toStderr: boolean): void {
  createInterface({ input: stream }).on('line', (line) => {
    const shown = compactLogLine(line);
    if (shown !== undefined) (toStderr ? console.error : console.log)(`${prefix}${shown}`);
  });
}

const LEVEL_NAMES: Readonly<Record<string, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** kafkajs client warnings by message: each is shown once, and the summary counts the repeats. */
const clientWarnings = new Map<string, number>();

/**
 * pino JSON lines become `WARN message {extra}`, a repeated kafkajs client warning becomes nothing
 * (undefined), anything else passes through.
 */
function compactLogLine(line: string): string | undefined {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, msg, time: _t, pid: _p, hostname: _h, app: _a, ...extra } = entry;
  const message = String(msg);
  if (extra.component === 'kafkajs') {
    const seen = clientWarnings.get(message) ?? 0;
    clientWarnings.set(message, seen + 1);
    if (seen > 0) return undefined;
  }
  const detail = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
  return `${LEVEL_NAMES[String(level)] ?? 'LOG'} ${message}${detail}`.slice(0, 240);
}

function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
    });
  });
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  say(`$ eos-rollup ${args.join(' ')}`);
  const code = await exitOf(spawnCli(args, env, args[0] ?? 'cli'));
  if (code !== 0) throw new Error(`eos-rollup ${args.join(' ')} ended with ${code}`);
}

// ---------------------------------------------------------------------------------------------------------
// Setup

async function connectStack(): Promise<StackAddresses> {
  const brokers = process.env.KAFKA_BROKERS;
  const registryUrl = process.env.SCHEMA_REGISTRY_URL;
  if (brokers && registryUrl) {
    say(`using KAFKA_BROKERS=${brokers} SCHEMA_REGISTRY_URL=${registryUrl}`);
    return { brokers, registryUrl };
  }
  say('KAFKA_BROKERS / SCHEMA_REGISTRY_URL not set: starting the local stack (first time: a few minutes)');
  const started = await up((line) => {
    say(`  stack | ${line}`);
  });
  if (started.startedNow) {
    cleanups.push(async () => {
      say('stopping the local stack this demo started');
      await down((line) => {
        say(`  stack | ${line}`);
      });
    });
  }
  return started.addresses;
}

async function demoEnv(stack: StackAddresses, runId: string): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    KAFKA_BROKERS: stack.brokers,
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    APP_ID: runId,
    INPUT_TOPIC: `${runId}-server-metrics`,
    INVENTORY_TOPIC: `${runId}-host-inventory`,
    OUTPUT_TOPIC: `${runId}-server-metrics-rollup-1m`,
    DLQ_TOPIC: `${runId}-server-metrics-dlq`,
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: String(GRACE_MS),
    LOG_LEVEL: 'warn',
    METRICS_PORT: String(await freePort()),
  };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** The stage creates the output and DLQ topics at start; the watcher can subscribe only once they exist. */
async function waitForTopics(
  kafka: Kafka,
  topics: string[],
  stage: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (hasExited(stage)) throw new Error('the stage exited during start-up; see its log lines above');
      const existing = new Set(await admin.listTopics());
      if (topics.every((t) => existing.has(t))) return;
      await sleep(250);
    }
    throw new Error(`topics ${topics.join(', ')} did not appear within ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Watching the output as transactions commit

const rollupType = avroType('metricRollup');

function decodeRollup(value: Buffer | null): MetricRollup | undefined {
  return value ? (rollupType.fromBuffer(value.subarray(HEADER_LENGTH)) as MetricRollup) : undefined;
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function formatRollup(r: MetricRollup): string {
  const where = `${r.region}/${r.datacenter}/${r.role}`.padEnd(28);
  const netMb = ((r.net_rx_bytes + r.net_tx_bytes) / 1e6).toFixed(0);
  return (
    `${r.host} ${where} [${formatTime(r.window_start)}, ${formatTime(r.window_end)}) n=${String(r.count).padStart(2)} ` +
    `cpu avg ${r.cpu_percent.avg.toFixed(1).padStart(4)} max ${r.cpu_percent.max.toFixed(1).padStart(4)}  net ${netMb} MB`
  );
}

interface Watcher {
  consumer: Consumer;
  rollups: number;
  deadLetters: number;
}

/** A read_committed consumer: a rollup is visible here only once the transaction that wrote it committed. */
async function watchOutput(kafka: Kafka, config: Config): Promise<Watcher> {
  const consumer = kafka.consumer({ groupId: `${config.appId}-demo-watcher`, maxWaitTimeInMs: 200 });
  const watcher: Watcher = { consumer, rollups: 0, deadLetters: 0 };
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.output, config.topics.dlq], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, message }) => {
      if (topic === config.topics.dlq) {
        watcher.deadLetters += 1;
        return Promise.resolve();
      }
      watcher.rollups += 1;
      const rollup = decodeRollup(message.value);
      if (rollup && watcher.rollups <= SHOWN_ROLLUPS) say(`  rollup | ${formatRollup(rollup)}`);
      if (watcher.rollups === SHOWN_ROLLUPS) say('  rollup | … (counting the rest)');
      return Promise.resolve();
    },
  });
  return watcher;
}

// ---------------------------------------------------------------------------------------------------------
// Waiting for the stage

async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((fetched?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Until the group's committed offset of every input partition equals that partition's end offset. */
async function waitUntilCaughtUp(
  kafka: Kafka,
  config: Config,
  watcher: Watcher,
  stage: ChildProcess,
): Promise<void> {
  const ends = await partitionRanges(kafka, config.topics.input, 'read_uncommitted');
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  let lastReport = '';
  while (Date.now() < deadline) {
    if (hasExited(stage)) throw new Error('the stage exited before catching up; see its log lines above');
    const committed = await committedOffsets(kafka, config.appId, config.topics.input);
    // -1 (nothing committed yet) counts as 0.
    const position = (p: number): bigint => ((committed.get(p) ?? 0n) < 0n ? 0n : (committed.get(p) ?? 0n));
    const behind = [...ends].reduce((sum, [p, r]) => sum + Number(r.end - position(p)), 0);
    const report = `  watch  | rollups committed: ${watcher.rollups}, dead letters: ${watcher.deadLetters}, input records not yet committed: ${Math.max(behind, 0)}`;
    if (report !== lastReport) say(report);
    lastReport = report;
    if (behind <= 0) return;
    await sleep(1000);
  }
  throw new Error(`the stage did not catch up within ${CATCH_UP_TIMEOUT_MS} ms`);
}

async function stopStage(stage: ChildProcess): Promise<number | string> {
  if (hasExited(stage)) return exitOf(stage);
  stage.kill('SIGTERM');
  const timer = setTimeout(() => stage.kill('SIGKILL'), 30_000);
  try {
    return await exitOf(stage);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Summary, read back from the topics with read_committed

interface Summary {
  inputRecords: number;
  rollups: MetricRollup[];
  deadLettersByReason: Map<string, number>;
}

async function readAllMessages(kafka: Kafka, topic: string): Promise<KafkaMessage[]> {
  const messages: KafkaMessage[] = [];
  const result = await readToEnd(kafka, {
    topic,
    groupIdPrefix: 'eos-rollup-demo-reader',
    timeoutMs: 60_000,
    onMessages: (_partition, batch) => {
      messages.push(...batch);
    },
  });
  if (!result.complete) throw new Error(`could not read ${topic} to its end within 60 s`);
  return messages;
}

async function summarize(kafka: Kafka, config: Config): Promise<Summary> {
  const input = await partitionRanges(kafka, config.topics.input, 'read_uncommitted');
  const rollups = (await readAllMessages(kafka, config.topics.output))
    .map((m) => decodeRollup(m.value))
    .filter((r) => r !== undefined);
  const deadLettersByReason = new Map<string, number>();
  for (const message of await readAllMessages(kafka, config.topics.dlq)) {
    const reason = message.headers?.[DLQ_HEADERS.reason]?.toString() ?? '(no reason header)';
    deadLettersByReason.set(reason, (deadLettersByReason.get(reason) ?? 0) + 1);
  }
  const inputRecords = [...input.values()].reduce((sum, r) => sum + Number(r.end - r.start), 0);
  return { inputRecords, rollups, deadLettersByReason };
}

function printSummary(summary: Summary, config: Config, elapsedMs: number, offlineVerdict: string): void {
  const deadLetters = [...summary.deadLettersByReason.values()].reduce((a, b) => a + b, 0);
  const valid = summary.inputRecords - deadLetters;
  const aggregated = summary.rollups.reduce((sum, r) => sum + r.count, 0);
  const keys = new Set(summary.rollups.map((r) => `${r.host}@${r.window_start}`));
  const unknownHosts = new Set(summary.rollups.filter((r) => r.region === 'unknown').map((r) => r.host));
  const reasons = [...summary.deadLettersByReason].sort(([a], [b]) => a.localeCompare(b));

  const row = (label: string, value: string): void => {
    say(`  ${label.padEnd(22)} ${value}`);
  };
  step('summary (read back with read_committed)');
  row('records in', String(summary.inputRecords));
  row('valid', String(valid));
  row('poison, dead-lettered', String(deadLetters));
  for (const [reason, count] of reasons) row(`  ${reason}`, String(count));
  const duplicates = keys.size === summary.rollups.length ? 'no duplicates' : 'DUPLICATES!';
  row('rollups out', `${summary.rollups.length} (${keys.size} distinct host-windows: ${duplicates})`);
  row('records in rollups', `${aggregated}; ${valid - aggregated} valid records wait in windows still open`);
  row('exactly once', offlineVerdict);
  row('unknown hosts', `${unknownHosts.size} (${[...unknownHosts].sort().join(', ')}) enriched as "unknown"`);
  const perSecond = Math.round((summary.inputRecords * 1000) / elapsedMs);
  row('throughput', `${perSecond} records/s, from stage start to caught up (start-up included)`);
  for (const [message, count] of clientWarnings) {
    if (count > 1) row('kafkajs warning', `${count}x ${message.slice(0, 100)}`);
  }
  row('topics kept', `${config.topics.input}, ${config.topics.output}, ${config.topics.dlq}`);
}

/**
 * The produce command's records follow from its options alone, so the count of every (host, window) can be
 * computed here without Kafka. Exactly once means each of them appears once in the output, with that count.
 * Only the main workload's windows are checked: the burst's own windows are still open.
 */
function checkAgainstOffline(
  rollups: readonly MetricRollup[],
  workload: Workload,
): { isExact: boolean; verdict: string } {
  const expected = new Map<string, number>();
  for (const record of planRecords(workload)) {
    if (record.kind !== 'valid') continue;
    const windowStart = record.metric.timestamp - (record.metric.timestamp % WINDOW_MS);
    const key = `${record.metric.host}@${windowStart}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const actual = new Map(rollups.map((r) => [`${r.host}@${r.window_start}`, r.count]));
  const wrong = [...expected].filter(([key, count]) => actual.get(key) !== count);
  const extra = [...actual.keys()].filter((key) => !expected.has(key));
  const isExact = wrong.length === 0 && extra.length === 0 && actual.size === rollups.length;
  const verdict = isExact
    ? `all ${expected.size} host-windows once, with the counts computed offline from the seed`
    : `MISMATCH: ${wrong.length} host-windows missing or with a wrong count, ${extra.length} unexpected`;
  return { isExact, verdict };
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  process.on('SIGINT', onInterrupt);
  process.on('exit', killChildrenNow);
  const runId = `demo-${Date.now().toString(36)}`;

  step('1. Kafka and the schema registry');
  const env = await demoEnv(await connectStack(), runId);
  const config = loadConfig(env);
  const kafka = createKafka(config.kafka, `${runId}-demo`, pino({ level: 'error' }, pino.destination(2)));

  step('2. topics and inventory');
  await runCli(['topics', 'create', '--partitions', String(PARTITIONS)], env);
  await runCli(['inventory', 'load', join(repoRoot(), 'examples', 'inventory.csv')], env);

  step(`3. ${RECORDS} metrics of ${HOSTS} hosts, one per host per second, ~1% poison pills`);
  const startMs = Date.now() - (Date.now() % WINDOW_MS);
  const workload: Workload = {
    count: RECORDS,
    hosts: HOSTS,
    seed: 42,
    poisonRatio: 0.01,
    v1Ratio: 0.5,
    startMs,
    stepMs: STEP_MS,
  };
  await runCli(produceArgs(workload), env);

  step('4. the stage (WINDOW_MS=60000 GRACE_MS=10000); rollups appear as their transactions commit');
  const startedMs = Date.now();
  const stage = spawnCli(['run'], env, 'stage');
  cleanups.push(async () => {
    if (!hasExited(stage)) say(`  stage stopped (${await stopStage(stage)})`);
  });
  await waitForTopics(kafka, [config.topics.output, config.topics.dlq], stage, 60_000);
  const watcher = await watchOutput(kafka, config);
  cleanups.push(() => watcher.consumer.disconnect());

  step('5. a burst two minutes later in event time: stream time passes every earlier window end + grace');
  const lastEventMs = startMs + (RECORDS / HOSTS) * STEP_MS;
  const burst: Workload = {
    ...workload,
    count: HOSTS,
    seed: 43,
    poisonRatio: 0,
    startMs: lastEventMs + 120_000,
  };
  await runCli(produceArgs(burst), env);

  step('6. waiting until the committed offsets reach the end of the input');
  await waitUntilCaughtUp(kafka, config, watcher, stage);
  const elapsedMs = Date.now() - startedMs;
  say('  stopping the stage with SIGTERM');
  const code = await stopStage(stage);
  say(`  stage exited with ${code}${code === 0 ? ' (clean stop)' : ' (expected 0!)'}`);

  const summary = await summarize(kafka, config);
  const offline = checkAgainstOffline(summary.rollups, workload);
  printSummary(summary, config, elapsedMs, offline.verdict);
  return code === 0 && offline.isExact ? 0 : 1;
}

void main()
  .catch((error: unknown) => {
    // After Ctrl-C, failures of the steps still running are the interruption itself.
    if (!isInterrupted) console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanUp();
    process.exitCode = code;
  });
