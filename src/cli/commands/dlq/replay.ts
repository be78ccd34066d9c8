/** `eos-rollup dlq replay`. */
import { setTimeout as sleep } from 'node:timers/promises';
import { instanceIdOf, loadConfig, type Config } from '../../../config/config.js';
import { FaultInjector, parseFaultSpecs } from '../../../engine/faults.js';
import { isStageError } from '../../../errors/errors.js';
import { createKafka } from '../../../kafka/client/client.js';
import { ensureMarkerTopic, readTopicRecords } from '../../../kafka/operator/dlq-reader.js';
import { DlqReplayer, type ReplayWrite } from '../../../kafka/operator/dlq-replayer.js';
import { missingTopics } from '../../../kafka/operator/source-topics.js';
import { describeDlqRecord } from '../../../ops/dlq-view.js';
import {
  ReplayPlanner,
  countPlan,
  replayHeaders,
  replayMarkerValue,
  type ReplayItem,
  type ReplayPlan,
} from '../../../ops/replay-plan.js';
import { formatCounts } from '../../../ops/table.js';
import { booleanOption, stringOption } from '../../arguments.js';
import { CommandError, EXIT } from '../../exit.js';
import { Progress } from '../../progress.js';
import { errorMessage } from '../../../errors/message.js';
import {
  COMMON_FLAGS,
  DEFAULT_BATCH,
  HELP,
  commandKafka,
  commonOptions,
  countOption,
  countsObject,
  parse,
  readingLine,
  usageError,
  type CommonOptions,
} from './shared.js';

/** Whole replay passes after a retriable failure; each pass re-reads the markers, so none repeats a record. */
const MAX_REPLAY_ATTEMPTS = 3;

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

export async function replay(args: string[]): Promise<number> {
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

    const replayId = `${instanceIdOf(config)}@${new Date().toISOString()}`;
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
