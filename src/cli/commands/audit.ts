/**
 * `eos-rollup audit`: the user-facing proof of exactly-once (design §7). Reads what read_committed consumers
 * see through the auditor's own reader, recomputes every rollup with the auditor's own implementation, prints
 * the violations with counts and what read_uncommitted sees beyond (aborted records), and exits 1 when there is
 * any violation.
 */
import { readFileSync } from 'node:fs';
import { commandLogger } from '../command-logger.js';
import { audit, formatReport } from '../../audit/auditor.js';
import { loadConfig } from '../../config/config.js';
import { readForAudit } from '../../audit/audit-reader.js';
import { createKafka } from '../../kafka/client/client.js';
import { assertKafkajsInternals } from '../../kafkajs-internals/index.js';
import {
  booleanOption,
  helpText,
  numberValue,
  parseCommandArgs,
  usageError,
  type CommandSpec,
  type ParsedArgs,
  stringOption,
} from '../arguments.js';
import { EXIT } from '../exit.js';
import { Progress } from '../progress.js';

const USAGE = `usage: eos-rollup audit [--drained] [--settle-ms N] [--culprit P:O]... [--json]
  --drained       also require committed offsets to equal the input's end offsets
  --settle-ms N   how long an open transaction may take to finish before it counts as hanging (default 15000)
  --culprit P:O   input partition P offset O is known to break processing: its processing-failed dead letter
                  is expected (any other valid record dead-lettered processing-failed is a violation)
  --json          print the report as JSON`;

const SPEC: CommandSpec = {
  command: 'audit',
  usage: USAGE.slice(0, USAGE.indexOf('\n')),
  details: USAGE.slice(USAGE.indexOf('\n') + 1),
  options: {
    drained: { type: 'boolean' },
    'settle-ms': { type: 'string' },
    culprit: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
};

const CULPRIT = /^(0|[1-9][0-9]*):(0|[1-9][0-9]*)$/;

function parseCulprits(parsed: ParsedArgs): { partition: number; offset: bigint }[] {
  const given = parsed.values.culprit;
  const values = Array.isArray(given) ? given : [];
  return values.map((value) => {
    const match = CULPRIT.exec(value);
    if (match === null) {
      throw usageError(
        SPEC,
        `--culprit "${value}" is not allowed: expected <partition>:<offset>, e.g. 0:137`,
      );
    }
    return { partition: Number(match[1]), offset: BigInt(match[2] ?? '0') };
  });
}

export async function auditCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') {
    console.log(helpText(SPEC));
    return EXIT.ok;
  }
  const values = { drained: booleanOption(parsed, 'drained'), json: booleanOption(parsed, 'json') };
  const settleMs = numberValue(SPEC, '--settle-ms', stringOption(parsed, 'settle-ms') ?? '15000', {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const culprits = parseCulprits(parsed);
  const config = loadConfig(process.env, { requireAppId: true });
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-audit`, logger, { quietRetries: true });
  assertKafkajsInternals(kafka);
  const progress = Progress.forCommand({
    logLevel: config.logLevel,
    jsonOutput: values.json,
    term: process.env.TERM,
  });
  const read = await readForAudit(kafka, {
    groupId: config.appId,
    topics: config.topics,
    windows: config.windows,
    expectDrained: values.drained,
    settleMs,
    culprits,
    registry: {
      url: config.registry.url,
      auth: config.registry.auth,
      ca: config.registry.caFile === undefined ? undefined : readFileSync(config.registry.caFile, 'utf8'),
    },
    onProgress: (topic, recordsRead) => {
      progress.update(() => `audit: reading ${topic}: ${recordsRead} records`);
    },
  }).finally(() => {
    progress.done();
  });
  const report = audit(read.data);
  if (values.json) {
    console.log(
      JSON.stringify(
        { ...report, aborted: read.aborted },
        (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        2,
      ),
    );
  } else {
    console.log(formatReport(report));
    for (const { topic, committed, uncommitted } of read.aborted) {
      console.log(
        `read_uncommitted ${topic}: ${uncommitted} records, ${uncommitted - committed} beyond read_committed (aborted)`,
      );
    }
  }
  return report.violations.length === 0 ? EXIT.ok : EXIT.failure;
}
