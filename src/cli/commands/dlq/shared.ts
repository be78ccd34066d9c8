/** What the dlq subcommands share: usage, the common options, the clients and progress lines. */
import { commandLogger } from '../../command-logger.js';
import type { Config } from '../../../config/config.js';
import { POISON_REASONS } from '../../../domain/dead-letter.js';
import { createKafka } from '../../../kafka/client/client.js';
import { assertKafkajsInternals } from '../../../kafkajs-internals/index.js';
import type { ReadProgress } from '../../../kafka/operator/dlq-reader.js';
import { SINCE_FORMS, parseSince } from '../../../ops/time-spec.js';
import {
  booleanOption,
  numberValue,
  parseCommandArgs,
  stringOption,
  usageError as newUsageError,
  type CommandSpec,
  type ParsedArgs,
  type UsageError,
} from '../../arguments.js';
import { errorMessage } from '../../../errors/message.js';

const KNOWN_REASONS: readonly string[] = [...POISON_REASONS, 'unknown'];
export const DEFAULT_INSPECT_LIMIT = 50;
export const DEFAULT_BATCH = 500;

const USAGE = `usage: eos-rollup dlq inspect [--reason <r>[,<r>...]] [--since <time>] [--limit <n>|all] [--json]
       eos-rollup dlq replay --reason <r>[,<r>...] [--since <time>] [--limit <n>] [--dry-run]
                             [--include-replays] [--batch <n>] [--json]`;

export const HELP = `${USAGE}

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

export interface CommonOptions {
  reasons: ReadonlySet<string> | null;
  sinceMs: number | null;
  json: boolean;
}

export const SPEC = { command: 'dlq', usage: USAGE, details: HELP.slice(USAGE.length + 2) };

export function usageError(message: string): UsageError {
  return newUsageError(SPEC, message);
}

export function parse(command: string, args: string[], options: CommandSpec['options']): ParsedArgs | 'help' {
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

export function countOption(name: string, text: string | undefined, min: number, max: number): number | null {
  if (text === undefined) return null;
  return numberValue(SPEC, name, text, { min, max, integer: true });
}

export function commonOptions(parsed: ParsedArgs): CommonOptions {
  return {
    reasons: reasonsOption(stringOption(parsed, 'reason')),
    sinceMs: sinceOption(stringOption(parsed, 'since')),
    json: booleanOption(parsed, 'json'),
  };
}

export const COMMON_FLAGS = {
  reason: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export function commandKafka(config: Config, suffix: string) {
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-${suffix}`, logger, { quietRetries: true });
  assertKafkajsInternals(kafka);
  return kafka;
}

export function readingLine(what: string, topic: string, p: ReadProgress): string {
  const percent = p.total === 0n ? 100 : Number((p.read * 100n) / p.total);
  return `${what}: reading ${topic} ${percent}% (${p.read.toString()} of ${p.total.toString()} offsets)`;
}

export function countsObject(counts: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}
