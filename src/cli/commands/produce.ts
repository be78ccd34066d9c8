/**
 * `eos-rollup produce`: a load generator for INPUT_TOPIC. Writes Avro ServerMetric records in Confluent wire
 * format, keyed by host, mixing writer schemas v1 and v2 and, on request, poison pills of every kind the
 * stage must dead-letter. The records depend only on the options (seed, start, step, ratios), never on the
 * clock or the pace, so a run can be reproduced and its expected rollups computed offline with planRecords.
 *
 * Ctrl-C (or SIGTERM) finishes the batch in flight and prints the summary; a second signal exits at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLogger } from '../command-logger.js';
import { loadConfig } from '../../config/config.js';
import type { ServerMetric } from '../../domain/metric.js';
import { createKafka } from '../../kafka/client/client.js';
import { MAX_BATCH_RECORDS, RecordWriter, type OutgoingRecord } from '../../kafka/operator/record-writer.js';
import { missingTopics } from '../../kafka/operator/source-topics.js';
import { AvroEncoder } from '../../serde/avro-encoder.js';
import { RegistryClient } from '../../serde/registry-client.js';
import { HEADER_LENGTH, withWireHeader } from '../../serde/wire-format.js';
import { POISON_KINDS, metrics, seededRandom, type PoisonKind } from '../../tools/workload.js';
import { parseCommandArgs, numberValue, stringOption, type CommandSpec } from '../arguments.js';
import { CommandError, EXIT, exitProcess } from '../exit.js';
import { Progress } from '../progress.js';

const USAGE =
  'usage: eos-rollup produce [--rate <records/s>] [--count <n>] [--hosts <n>] [--poison-ratio <0..1>] ' +
  '[--v1-ratio <0..1>] [--seed <n>] [--start-ms <epoch ms>] [--step-ms <ms>]';
const HELP = [
  USAGE,
  '',
  'Writes Avro ServerMetric records (key = host) to INPUT_TOPIC; KAFKA_BROKERS and SCHEMA_REGISTRY_URL as for run.',
  '  --rate <records/s>     pace; 0 = as fast as possible [0]',
  '  --count <n>            total records, poison included [until Ctrl-C]',
  '  --hosts <n>            hosts host-00000, host-00001, ... [100]',
  `  --poison-ratio <0..1>  share of poison pills, kinds round-robin: ${POISON_KINDS.join(', ')} [0]`,
  '  --v1-ratio <0..1>      share of valid records written with schema v1 instead of v2 [0.5]',
  '  --seed <n>             the same seed, start and step give the same records [1]',
  '  --start-ms <epoch ms>  event time of the first record [now, rounded down to the minute]',
  '  --step-ms <ms>         event-time step between two records of one host [1000]',
].join('\n');

/** A schema id no registry hands out in practice: the stage must dead-letter it as unknown. */
export const UNKNOWN_SCHEMA_ID = 2_000_000_000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** With --rate, about this many sends per second, so the pace is smooth without tiny batches. */
const SENDS_PER_SECOND = 20;

export interface ProduceOptions {
  /** Records per second; 0: as fast as the broker takes them. */
  ratePerSecond: number;
  /** Total records, poison included; Infinity: until interrupted. */
  count: number;
  hosts: number;
  poisonRatio: number;
  v1Ratio: number;
  seed: number;
  startMs: number;
  stepMs: number;
}

export type WriterVersion = 'v1' | 'v2';

/** One record of the plan: a valid metric and its writer schema, or a poison pill made from a metric. */
export type PlannedRecord =
  | { kind: 'valid'; metric: ServerMetric; writer: WriterVersion }
  | { kind: 'poison'; metric: ServerMetric; poison: PoisonKind };

export interface MetricEncoders {
  v1: AvroEncoder<ServerMetric>;
  v2: AvroEncoder<ServerMetric>;
}

// ---------------------------------------------------------------------------------------------------------
// Options

const SPEC: CommandSpec = {
  command: 'produce',
  usage: USAGE,
  details: HELP.slice(USAGE.length + 2),
  options: {
    rate: { type: 'string' },
    count: { type: 'string' },
    hosts: { type: 'string' },
    'poison-ratio': { type: 'string' },
    'v1-ratio': { type: 'string' },
    seed: { type: 'string' },
    'start-ms': { type: 'string' },
    'step-ms': { type: 'string' },
  },
};

/** undefined: --help was asked for. */
function parseProduceArgs(args: string[], nowMs: number): ProduceOptions | undefined {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') return undefined;
  const text = (name: string, fallback: string): string => stringOption(parsed, name) ?? fallback;
  const count = stringOption(parsed, 'count');
  return {
    ratePerSecond: numberOption('--rate', text('rate', '0'), 0, 1_000_000, false),
    count: count !== undefined ? numberOption('--count', count, 1, MAX_SAFE, true) : Infinity,
    hosts: numberOption('--hosts', text('hosts', '100'), 1, 1_000_000, true),
    poisonRatio: numberOption('--poison-ratio', text('poison-ratio', '0'), 0, 1, false),
    v1Ratio: numberOption('--v1-ratio', text('v1-ratio', '0.5'), 0, 1, false),
    seed: numberOption('--seed', text('seed', '1'), 0, 0xffffffff, true),
    startMs: numberOption(
      '--start-ms',
      text('start-ms', String(nowMs - (nowMs % 60_000))),
      0,
      MAX_SAFE,
      true,
    ),
    stepMs: numberOption('--step-ms', text('step-ms', '1000'), 1, 86_400_000, true),
  };
}

function numberOption(name: string, text: string, min: number, max: number, integer: boolean): number {
  return numberValue(SPEC, name, text, { min, max, integer });
}

// ---------------------------------------------------------------------------------------------------------
// The plan (pure) and its encoding

/**
 * The records a run writes, in order: the workload's metrics (per host in event-time order, hosts interleaved),
 * each replaced by a poison pill with probability poisonRatio (kinds taken round-robin) or else written with
 * schema v1 with probability v1Ratio. The choices use their own random stream, so the metrics themselves are
 * exactly those of `metrics()` for the same seed.
 */
export function* planRecords(options: Omit<ProduceOptions, 'ratePerSecond'>): Generator<PlannedRecord> {
  const choose = seededRandom(options.seed ^ 0x5bd1e995);
  const workload = metrics({
    hosts: options.hosts,
    startMs: options.startMs,
    stepMs: options.stepMs,
    perHost: Number.POSITIVE_INFINITY,
    seed: options.seed,
  });
  let poisonCount = 0;
  for (let n = 0; n < options.count; n++) {
    const next = workload.next();
    if (next.done === true) return;
    const metric = next.value;
    if (choose() < options.poisonRatio) {
      const poison = POISON_KINDS[poisonCount % POISON_KINDS.length] ?? 'garbage-bytes';
      poisonCount += 1;
      yield { kind: 'poison', metric, poison };
    } else {
      yield { kind: 'valid', metric, writer: choose() < options.v1Ratio ? 'v1' : 'v2' };
    }
  }
}

/** Key = host; the value is what the plan says, byte for byte. */
export function encodePlanned(record: PlannedRecord, encoders: MetricEncoders): OutgoingRecord {
  const key = record.metric.host;
  if (record.kind === 'valid') return { key, value: encoders[record.writer].encode(record.metric) };
  return { key, value: poisonValue(record.poison, record.metric, encoders.v2) };
}

function poisonValue(
  kind: PoisonKind,
  metric: ServerMetric,
  encoder: AvroEncoder<ServerMetric>,
): Buffer | null {
  switch (kind) {
    case 'garbage-bytes':
      // Starts with a non-zero byte, so it can never pass for a wire header by chance.
      return Buffer.from(`not avro: ${metric.host} ${metric.timestamp}`, 'utf8');
    case 'wrong-magic-byte': {
      const value = encoder.encode(metric);
      value.writeUInt8(1, 0);
      return value;
    }
    case 'unknown-schema-id':
      return withWireHeader(UNKNOWN_SCHEMA_ID, encoder.encode(metric).subarray(HEADER_LENGTH));
    case 'truncated-avro': {
      const value = encoder.encode(metric);
      return value.subarray(0, HEADER_LENGTH + Math.floor((value.length - HEADER_LENGTH) / 2));
    }
    case 'empty-host':
      return encoder.encode({ ...metric, host: '' });
    case 'nan-value':
      return encoder.encode({ ...metric, cpu_percent: NaN });
    case 'percent-out-of-range':
      return encoder.encode({ ...metric, cpu_percent: 150 });
    case 'negative-counter':
      return encoder.encode({ ...metric, disk_read_bytes: -1 });
    case 'null-value':
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The run

interface Totals {
  records: number;
  poison: number;
}

/** First signal: stop after the batch in flight. Second: exit at once. */
class StopSignal {
  private readonly controller = new AbortController();
  private readonly onSignal = (): void => {
    if (this.controller.signal.aborted) exitProcess(EXIT.interrupted);
    this.controller.abort();
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isStopped(): boolean {
    return this.controller.signal.aborted;
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** The terminal's status line (src/cli/progress.ts decides whether it shows). */
function progressLine(totals: Totals, startedMs: number): string {
  const elapsedMs = Math.max(1, Date.now() - startedMs);
  const rate = (totals.records * 1000) / elapsedMs;
  return `produce: ${totals.records} records (${totals.poison} poison) in ${(elapsedMs / 1000).toFixed(0)} s, ${rate.toFixed(0)} records/s`;
}

/** Sends the plan in batches, paced to the rate; returns what was acknowledged. */
async function pump(
  writer: RecordWriter,
  topic: string,
  options: ProduceOptions,
  encoders: MetricEncoders,
  stop: StopSignal,
  progress: Progress,
): Promise<Totals> {
  const plan = planRecords(options);
  const batchSize =
    options.ratePerSecond > 0
      ? Math.min(MAX_BATCH_RECORDS, Math.max(1, Math.ceil(options.ratePerSecond / SENDS_PER_SECOND)))
      : MAX_BATCH_RECORDS;
  const startedMs = Date.now();
  const totals: Totals = { records: 0, poison: 0 };
  while (!stop.isStopped) {
    const batch = takeBatch(plan, batchSize);
    if (batch.length === 0) break;
    await writer.send(
      topic,
      batch.map((r) => encodePlanned(r, encoders)),
    );
    totals.records += batch.length;
    totals.poison += batch.filter((r) => r.kind === 'poison').length;
    progress.update(() => progressLine(totals, startedMs));
    if (options.ratePerSecond > 0) {
      const dueMs = startedMs + (totals.records * 1000) / options.ratePerSecond;
      await sleepUntil(dueMs, stop.signal);
    }
  }
  return totals;
}

function takeBatch(plan: Generator<PlannedRecord>, size: number): PlannedRecord[] {
  const batch: PlannedRecord[] = [];
  while (batch.length < size) {
    const next = plan.next();
    if (next.done === true) break;
    batch.push(next.value);
  }
  return batch;
}

async function sleepUntil(dueMs: number, signal: AbortSignal): Promise<void> {
  const waitMs = dueMs - Date.now();
  if (waitMs <= 0) return;
  await sleep(waitMs, undefined, { signal }).catch(() => undefined);
}

export async function produceCommand(args: string[]): Promise<number> {
  const options = parseProduceArgs(args, Date.now());
  if (!options) {
    console.log(HELP);
    return EXIT.ok;
  }
  const config = loadConfig(process.env);
  const topic = config.topics.input;
  const logger = commandLogger(config);
  const kafka = createKafka(config.kafka, `${config.appId}-produce`, logger, { quietRetries: true });
  if ((await missingTopics(kafka, [topic])).length > 0) {
    throw new CommandError(
      `input topic ${topic} (INPUT_TOPIC) does not exist: create it with eos-rollup topics create`,
    );
  }
  const registry = new RegistryClient(config.registry);
  const encoders: MetricEncoders = {
    v1: await AvroEncoder.register<ServerMetric>(registry, topic, 'serverMetricV1'),
    v2: await AvroEncoder.register<ServerMetric>(registry, topic, 'serverMetricV2'),
  };
  const writer = await RecordWriter.connect(kafka);
  const stop = new StopSignal();
  const progress = Progress.forCommand({
    logLevel: config.logLevel,
    jsonOutput: false,
    term: process.env.TERM,
  });
  const startedMs = Date.now();
  let totals: Totals;
  try {
    totals = await pump(writer, topic, options, encoders, stop, progress);
  } finally {
    progress.done();
    stop.dispose();
    await writer.close().catch(() => undefined);
  }
  const elapsedS = ((Date.now() - startedMs) / 1000).toFixed(1);
  console.log(`produced ${totals.records} records (${totals.poison} poison) to ${topic} in ${elapsedS} s`);
  const isShortOfCount = Number.isFinite(options.count) && totals.records < options.count;
  return isShortOfCount ? EXIT.interrupted : EXIT.ok;
}
