/** `eos-rollup dlq inspect`. */
import { loadConfig, type Config } from '../../../config/config.js';
import type { DecodedInput } from '../../../domain/process-record.js';
import { readTopicRecords } from '../../../kafka/operator/dlq-reader.js';
import { missingTopics } from '../../../kafka/operator/source-topics.js';
import {
  DlqSummary,
  describeDlqRecord,
  dlqRecordJson,
  formatDlqEntry,
  type DlqFilter,
} from '../../../ops/dlq-view.js';
import { formatCounts } from '../../../ops/table.js';
import { MetricDecoder } from '../../../serde/metric-decoder.js';
import { RegistryClient } from '../../../serde/registry-client.js';
import { stringOption } from '../../arguments.js';
import { CommandError, EXIT } from '../../exit.js';
import { Progress } from '../../progress.js';
import { errorMessage } from '../../../errors/message.js';
import {
  COMMON_FLAGS,
  DEFAULT_INSPECT_LIMIT,
  HELP,
  commandKafka,
  commonOptions,
  countOption,
  countsObject,
  parse,
  readingLine,
} from './shared.js';

export async function inspect(args: string[]): Promise<number> {
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
