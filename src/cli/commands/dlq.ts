/**
 * `eos-rollup dlq inspect` and `eos-rollup dlq replay`.
 *
 * inspect: reads DLQ_TOPIC (read_committed, to its end offsets at start), counts by reason and by source
 * partition, and shows the records: headers decoded, payload decoded through the registry when possible, raw
 * bytes otherwise.
 *
 * replay: sends selected dead letters back to the input topic they came from (same partition, key, value and
 * original headers, plus `eos-rollup.replay.of`) inside Kafka transactions of the transactional id
 * `<APP_ID>-dlq-replay`, each also writing one marker per record to the compacted `<APP_ID>-dlq-replays`. The
 * order makes it exactly once: open the producer (InitProducerId fences any earlier replay and settles its open
 * transaction), then read the markers, then the DLQ, and replay only what has no marker. A replay killed at any
 * point is simply run again. See src/ops/replay-plan.ts for what is selected and skipped.
 */
import { hostname } from 'node:os';
import { commandLogger } from '../command-logger.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../config/config.js';
import { POISON_REASONS } from '../../domain/dead-letter.js';
import type { DecodedInput } from '../../domain/process-record.js';
import { FaultInjector, parseFaultSpecs } from '../../engine/faults.js';
import { isStageError } from '../../errors/errors.js';
import { createKafka } from '../../kafka/client/client.js';
import { assertKafkajsInternals } from '../../kafkajs-internals/index.js';
import { ensureMarkerTopic, readTopicRecords, type ReadProgress } from '../../kafka/operator/dlq-reader.js';
import { DlqReplayer, type ReplayWrite } from '../../kafka/operator/dlq-replayer.js';
import { missingTopics } from '../../kafka/operator/source-topics.js';
import {
  DlqSummary,
  describeDlqRecord,
  dlqRecordJson,
  formatDlqEntry,
  type DlqFilter,
} from '../../ops/dlq-view.js';
import {
  ReplayPlanner,
  countPlan,
  replayHeaders,
  replayMarkerValue,
  type ReplayItem,
  type ReplayPlan,
} from '../../ops/replay-plan.js';
import { formatCounts } from '../../ops/table.js';
import { SINCE_FORMS, parseSince } from '../../ops/time-spec.js';
import { MetricDecoder } from '../../serde/metric-decoder.js';
import { RegistryClient } from '../../serde/registry-client.js';
import {
  booleanOption,
  dispatchSubcommand,
  numberValue,
  parseCommandArgs,
  stringOption,
  usageError as newUsageError,
  type CommandSpec,
  type ParsedArgs,
  type UsageError,
} from '../arguments.js';
import { CommandError, EXIT } from '../exit.js';
import { Progress } from '../progress.js';
import { errorMessage } from '../../errors/message.js';

const KNOWN_REASONS: readonly string[] = [...POISON_REASONS, 'unknown'];
const DEFAULT_INSPECT_LIMIT = 50;
const DEFAULT_BATCH = 500;
/** Whole replay passes after a retriable failure; each pass re-reads the markers, so none repeats a record. */
const MAX_REPLAY_ATTEMPTS = 3;

const USAGE = `usage: eos-rollup dlq inspect [--reason <r>[,<r>...]] [--since <time>] [--limit <n>|all] [--json]
       eos-rollup dlq replay --reason <r>[,<r>...] [--since <time>] [--limit <n>] [--dry-run]
                             [--include-replays] [--batch <n>] [--json]`;

const HELP = `${USAGE}

inspect  reads DLQ_TOPIC (read_committed, up to its end offsets at start), prints counts by reason and by source
         partition, then the records: headers decoded, payload decoded through the registry when possible,
         raw bytes (hex; base64 in --json) otherwise.
  --reason <r>,...   only these reasons: ${KNOWN_REASONS.join(', ')}
  --since <time>     only records dead-lettered since then: ${SINCE_FORMS}
  --limit <n>|all    records shown, in DLQ order (partition, offset) [${DEFAULT_INSPECT_LIMIT}]; counts cover all
  --json             print one JSON document

replay   sends the selected dead letters back to the input topic and partition they came from (key, value and
         original headers untouched, plus eos-rollup.replay.of=<dlq topic>:<partition>:<offset>) in Kafka
         transactions of the transactional id <APP_ID>-dlq-replay. Each transaction also writes a marker per
         record to the compacted topic <APP_ID>-dlq-replays, so a dead letter is replayed at most once, however
         often the command runs or wherever it is killed: rerun it and it resumes.
         Dead letters that are replays which failed again are skipped unless --include-replays.
  --reason <r>,...   required: the reasons to replay (fix their cause first)
  --since <time>     only records dead-lettered since then [any time]
  --limit <n>        replay at most this many records [all]
  --dry-run          report what would be replayed, write nothing
  --include-replays  also replay dead letters that are replays which failed again
  --batch <n>        records per transaction, 1 to 1000 [${DEFAULT_BATCH}]
  --json             print the report as JSON`;

interface CommonOptions {
  reasons: ReadonlySet<string> | null;
  sinceMs: number | null;
  json: boolean;
}

const SPEC = { command: 'dlq', usage: USAGE, details: HELP.slice(USAGE.length + 2) };

function usageError(message: string): UsageError {
  return newUsageError(SPEC, message);
}

function parse(command: string, args: string[], options: CommandSpec['options']): ParsedArgs | 'help' {
  return parseCommandArgs({ ...SPEC, command: `dlq ${command}`, options }, args);
}

function reasonsOption(text: string | undefined): ReadonlySet<string> | null {
  if (text === undefined) return null;
  const reasons = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const unknown = reasons.filter((r) => !KNOWN_REASONS.includes(r));
  if (reasons.length === 0 || unknown.length > 0) {
    throw usageError(
      `--reason ${JSON.stringify(text)} is not allowed: expected a comma-separated list of ${KNOWN_REASONS.join(', ')}`,
    );
  }
  return new Set(reasons);
}

function sinceOption(text: string | undefined): number | null {
  if (text === undefined) return null;
  try {
    return parseSince(text, Date.now());
  } catch (error) {
    throw usageError(errorMessage(error));
  }
}

function countOption(name: string, text: string | undefined, min: number, max: number): number | null {
  if (text === undefined) return null;
  return numberValue(SPEC, name, text, { min, max, integer: true });
}

function commonOptions(parsed: ParsedArgs): CommonOptions {
  return {
    reasons: reasonsOption(stringOption(parsed, 'reason')),
    sinceMs: sinceOption(stringOption(parsed, 'since')),
    json: booleanOption(parsed, 'json'),
  };
}

const COMMON_FLAGS = {
  reason: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function commandKafka(config: Config, suffix: string) {
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-${suffix}`, logger, { quietRetries: true });
  assertKafkajsInternals(kafka);
  return kafka;
}

function readingLine(what: string, topic: string, p: ReadProgress): string {
  const percent = p.total === 0n ? 100 : Number((p.read * 100n) / p.total);
  return `${what}: reading ${topic} ${percent}% (${p.read.toString()} of ${p.total.toString()} offsets)`;
}

function countsObject(counts: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

export async function dlqCommand(args: string[]): Promise<number> {
  return dispatchSubcommand({ spec: SPEC, run: { inspect, replay } }, args);
}

// ---------------------------------------------------------------------------------------------------------
// inspect

async function inspect(args: string[]): Promise<number> {
  const parsed = parse('inspect', args, { ...COMMON_FLAGS, limit: { type: 'string' } });
  if (parsed === 'help') {
    console.log(HELP);
    return EXIT.ok;
  }
  const common = commonOptions(parsed);
  const limitText = stringOption(parsed, 'limit');
  const limit =
    limitText === 'all' ? null : (countOption('--limit', limitText, 0, 1_000_000) ?? DEFAULT_INSPECT_LIMIT);
  const config = loadConfig(process.env, { requireAppId: true });
  const topic = config.topics.dlq;
  const kafka = commandKafka(config, 'dlq-inspect');
  if ((await missingTopics(kafka, [topic])).length > 0)
    throw new CommandError(
      `DLQ topic ${topic} (DLQ_TOPIC) does not exist: the stage creates it when it starts`,
    );

  const filter: DlqFilter = { reasons: common.reasons, sinceMs: common.sinceMs };
  const summary = new DlqSummary(filter, limit);
  const progress = Progress.forCommand({
    logLevel: config.logLevel,
    jsonOutput: common.json,
    term: process.env.TERM,
  });
  await readTopicRecords(
    kafka,
    topic,
    (record) => {
      summary.add(describeDlqRecord(record));
    },
    {
      onProgress: (p) => {
        progress.update(() => readingLine('dlq inspect', topic, p));
      },
    },
  );
  progress.done();
  const decoded = await decodePayloads(
    config,
    summary.shown.map((e) => e.record.value),
  );

  if (common.json) {
    console.log(
      JSON.stringify(
        {
          topic,
          total: summary.total,
          selected: summary.selected,
          byReason: countsObject(summary.byReason),
          bySource: countsObject(summary.bySource),
          shown: summary.shown.length,
          records: summary.shown.map((entry, i) => dlqRecordJson(entry, decoded[i] ?? null)),
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const selection = [
    common.reasons === null ? '' : `reason ${[...common.reasons].join(', ')}`,
    common.sinceMs === null ? '' : `since ${new Date(common.sinceMs).toISOString()}`,
  ].filter((s) => s !== '');
  const lines = [
    `DLQ ${topic}: ${summary.total} records` +
      (selection.length === 0 ? '' : `, ${summary.selected} with ${selection.join(' and ')}`),
  ];
  if (summary.selected > 0) {
    lines.push(
      '',
      formatCounts('REASON', summary.byReason),
      '',
      formatCounts('SOURCE PARTITION', summary.bySource),
    );
    lines.push('', `records (${summary.shown.length} of ${summary.selected}, in DLQ order):`);
    summary.shown.forEach((entry, i) => lines.push('', formatDlqEntry(entry, decoded[i] ?? null)));
    if (summary.shown.length < summary.selected)
      lines.push('', `... ${summary.selected - summary.shown.length} more: --limit all`);
  }
  console.log(lines.join('\n'));
  return EXIT.ok;
}

/** Decoded payloads, or nulls when the registry cannot be asked (then raw bytes are all there is to show). */
async function decodePayloads(
  config: Config,
  values: readonly (Buffer | Uint8Array | null)[],
): Promise<(DecodedInput | null)[]> {
  const buffers = values.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v)));
  const decoder = new MetricDecoder(new RegistryClient(config.registry));
  try {
    await decoder.prepare(buffers);
  } catch (error) {
    console.error(`eos-rollup dlq: payloads not decoded (${errorMessage(error)}); showing raw bytes`);
    return buffers.map(() => null);
  }
  return buffers.map((b) => decoder.decode(b));
}

// ---------------------------------------------------------------------------------------------------------
// replay

interface ReplayOptions extends CommonOptions {
  reasons: ReadonlySet<string>;
  limit: number | null;
  dryRun: boolean;
  includeReplays: boolean;
  batch: number;
}

interface ReplayOutcome {
  plan: ReplayPlan;
  replayed: number;
  transactions: number;
}

function parseReplayArgs(args: string[]): ReplayOptions | undefined {
  const parsed = parse('replay', args, {
    ...COMMON_FLAGS,
    limit: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'include-replays': { type: 'boolean' },
    batch: { type: 'string' },
  });
  if (parsed === 'help') return undefined;
  const common = commonOptions(parsed);
  if (common.reasons === null)
    throw usageError('dlq replay needs --reason: replay only what you fixed the cause of');
  return {
    ...common,
    reasons: common.reasons,
    limit: countOption('--limit', stringOption(parsed, 'limit'), 1, Number.MAX_SAFE_INTEGER),
    dryRun: booleanOption(parsed, 'dry-run'),
    includeReplays: booleanOption(parsed, 'include-replays'),
    batch: countOption('--batch', stringOption(parsed, 'batch'), 1, 1000) ?? DEFAULT_BATCH,
  };
}

async function replay(args: string[]): Promise<number> {
  const options = parseReplayArgs(args);
  if (!options) {
    console.log(HELP);
    return EXIT.ok;
  }
  const config = loadConfig(process.env, { requireAppId: true });
  const kafka = commandKafka(config, 'dlq-replay');
  const missing = await missingTopics(kafka, [config.topics.dlq, config.topics.input]);
  if (missing.length > 0)
    throw new CommandError(`topic ${missing.join(', ')} does not exist (DLQ_TOPIC, INPUT_TOPIC)`);
  const progress = Progress.forCommand({
    logLevel: config.logLevel,
    jsonOutput: options.json,
    term: process.env.TERM,
  });
  for (let attempt = 1; ; attempt++) {
    try {
      const outcome = await replayOnce(kafka, config, options, progress);
      progress.done();
      printReplay(outcome, config, options);
      return EXIT.ok;
    } catch (error) {
      progress.done();
      const isRetriable = isStageError(error) && error.kind === 'retriable';
      if (!isRetriable || attempt >= MAX_REPLAY_ATTEMPTS) {
        if (isStageError(error) && error.kind === 'fenced') {
          throw new CommandError(
            `another dlq replay of ${config.appId} started and fenced this one (${error.message}); records replayed so far stay replayed`,
          );
        }
        throw error;
      }
      console.error(
        `eos-rollup dlq replay: ${errorMessage(error)}; attempt ${attempt + 1} of ${MAX_REPLAY_ATTEMPTS} resumes after what is committed`,
      );
      await sleep(500 * attempt);
    }
  }
}

/** One pass: fence, read markers, read the DLQ, plan, write in transactions. Safe to repeat after any failure. */
async function replayOnce(
  kafka: ReturnType<typeof createKafka>,
  config: Config,
  options: ReplayOptions,
  progress: Progress,
): Promise<ReplayOutcome> {
  const markerTopic = `${config.appId}-dlq-replays`;
  const faults = new FaultInjector(parseFaultSpecs(config.faultSpec));
  let replayer: DlqReplayer | undefined;
  try {
    if (!options.dryRun) {
      await ensureMarkerTopic(kafka, markerTopic, config.topicSettings.replicationFactor);
      // Fencing before reading the markers: no earlier replay can commit anything this pass does not see.
      replayer = await DlqReplayer.open(kafka, `${config.appId}-dlq-replay`, config.transactionTimeoutMs);
    }
    const replayed = new Set<string>();
    if (!options.dryRun || (await missingTopics(kafka, [markerTopic])).length === 0) {
      await readTopicRecords(kafka, markerTopic, (record) => {
        if (record.key === null) return;
        // A tombstone takes a marker back: an operator may delete one to replay that dead letter again.
        if (record.value === null) replayed.delete(record.key.toString('utf8'));
        else replayed.add(record.key.toString('utf8'));
      });
    }
    const planner = new ReplayPlanner({
      reasons: options.reasons,
      sinceMs: options.sinceMs,
      inputTopic: config.topics.input,
      limit: options.limit,
      includeReplays: options.includeReplays,
    });
    await readTopicRecords(
      kafka,
      config.topics.dlq,
      (record) => {
        planner.add(describeDlqRecord(record));
      },
      {
        onProgress: (p) => {
          progress.update(() => readingLine('dlq replay', config.topics.dlq, p));
        },
      },
    );
    const plan = planner.plan(replayed);
    if (replayer === undefined) return { plan, replayed: 0, transactions: 0 };

    const replayId = `${config.instanceId ?? `${hostname()}-${process.pid}`}@${new Date().toISOString()}`;
    let done = 0;
    let transactions = 0;
    for (let from = 0; from < plan.items.length; from += options.batch) {
      const batch = plan.items.slice(from, from + options.batch);
      const atMs = Date.now();
      await replayer.writeTransaction(
        batch.flatMap((item) => writesFor(item, markerTopic, atMs, replayId)),
        {
          afterSend: () => faults.hit('after-send', 0),
          afterCommit: () => faults.hit('after-commit', 0),
        },
      );
      done += batch.length;
      transactions += 1;
      progress.update(
        () => `dlq replay: ${done} of ${plan.items.length} records replayed (${transactions} transactions)`,
      );
    }
    return { plan, replayed: done, transactions };
  } finally {
    await replayer?.close();
  }
}

/** The record back to its input partition, and its marker, for the same transaction. */
function writesFor(item: ReplayItem, markerTopic: string, atMs: number, replayId: string): ReplayWrite[] {
  const { record } = item.entry;
  return [
    {
      topic: item.target.topic,
      partition: item.target.partition,
      key: record.key,
      value: record.value,
      headers: replayHeaders(item.entry, item.markerKey, atMs),
    },
    {
      topic: markerTopic,
      partition: 0,
      key: Buffer.from(item.markerKey, 'utf8'),
      value: Buffer.from(replayMarkerValue(item, atMs, replayId), 'utf8'),
      headers: {},
    },
  ];
}

function printReplay(outcome: ReplayOutcome, config: Config, options: ReplayOptions): void {
  const { plan } = outcome;
  const counts = countPlan(plan.items);
  if (options.json) {
    console.log(
      JSON.stringify(
        {
          dryRun: options.dryRun,
          dlqTopic: config.topics.dlq,
          inputTopic: config.topics.input,
          markerTopic: `${config.appId}-dlq-replays`,
          read: plan.total,
          selected: plan.selected,
          planned: plan.items.length,
          replayed: outcome.replayed,
          transactions: outcome.transactions,
          byReason: countsObject(counts.byReason),
          byTarget: countsObject(counts.byTarget),
          skipped: plan.skipped,
        },
        null,
        2,
      ),
    );
    return;
  }
  const { skipped } = plan;
  const verb = options.dryRun ? 'would replay' : 'replayed';
  const lines = [
    plan.items.length === 0
      ? `dlq replay: nothing to replay (${plan.selected} of ${plan.total} dead letters selected)`
      : `dlq replay: ${verb} ${options.dryRun ? plan.items.length : outcome.replayed} of ${plan.selected} selected dead letters ` +
        `(${plan.total} read) from ${config.topics.dlq} to ${config.topics.input}` +
        (options.dryRun
          ? ''
          : ` in ${outcome.transactions} transaction${outcome.transactions === 1 ? '' : 's'}`),
  ];
  if (plan.items.length > 0) {
    lines.push(
      '',
      formatCounts('REASON', counts.byReason),
      '',
      formatCounts('TARGET PARTITION', counts.byTarget),
    );
  }
  const skips = [
    skipped['already-replayed'] > 0 ? `${skipped['already-replayed']} already replayed` : '',
    skipped['replay-failed-again'] > 0
      ? `${skipped['replay-failed-again']} replays that failed again (--include-replays to replay them)`
      : '',
    skipped['other-topic'] > 0 ? `${skipped['other-topic']} from another input topic` : '',
    skipped['no-source'] > 0 ? `${skipped['no-source']} without source coordinates` : '',
    skipped['over-limit'] > 0 ? `${skipped['over-limit']} beyond --limit` : '',
  ].filter((s) => s !== '');
  if (skips.length > 0) lines.push('', `skipped: ${skips.join(', ')}`);
  console.log(lines.join('\n'));
}
