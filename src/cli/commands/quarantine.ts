/**
 * `eos-rollup quarantine`: what the crash-loop guard quarantined, and the operator's way out.
 *
 * status: each input partition's processing-attempts journal entry and the group's committed offset; the
 * partitions quarantined (a record that crashed the process MAX_PROCESSING_ATTEMPTS times processed alone).
 *
 * dead-letter / skip --partition <n>: in ONE Kafka transaction of the partition task's own transactional id
 * (InitProducerId fences any zombie of that task and settles its open transaction), sends the quarantined record
 * to the DLQ (dead-letter: raw bytes untouched, reason processing-failed, the usual provenance and lineage
 * headers) or nothing (skip), and commits the group's offset past it (TxnOffsetCommit), so the DLQ write and the
 * offset move together or not at all. Then it clears the journal entry. Refuses while the consumer group has
 * members: a running stage would own the partition, and its task's next commit would race with this one.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../../config/config.js';
import { type Poison } from '../../domain/dead-letter.js';
import { deadLetterHeaders } from '../../engine/dead-letter.js';
import { attemptId, lineageHeaders } from '../../engine/lineage.js';
import { MAX_PROCESSING_ATTEMPTS, planAttempt } from '../../engine/attempt-policy.js';
import type { JournaledAttempt, OutgoingRecord } from '../../engine/ports.js';
import { KafkajsAttemptJournal, processingAttemptsTopic } from '../../kafka/stage/attempt-journal.js';
import { createKafka } from '../../kafka/client/client.js';
import { committedOffsets } from '../../kafka/client/offsets.js';
import { createTransactionalProducer } from '../../kafka/client/transactional-producer.js';
import { assertKafkajsInternals, type FetchedRecord } from '../../kafkajs-internals/index.js';
import { fetchPartitionRange } from '../../kafka/client/partition-fetcher.js';
import { commandLogger } from '../command-logger.js';
import { closest } from '../../config/suggest.js';
import {
  helpText,
  numberValue,
  parseCommandArgs,
  stringOption,
  usageError,
  type CommandSpec,
} from '../arguments.js';
import { CommandError, EXIT } from '../exit.js';
import { packageVersion } from '../version.js';

const USAGE = `usage: eos-rollup quarantine [status]
       eos-rollup quarantine dead-letter --partition <n>
       eos-rollup quarantine skip --partition <n>`;

const HELP = `${USAGE}

A record that crashed the process ${MAX_PROCESSING_ATTEMPTS} times, each time processed alone, quarantines its input
partition (ON_PROCESS_CRASH=quarantine, the default): the stage pauses it there, and /readyz, the metric
eos_rollup_quarantined_partition_offset and an error log line name the partition and the offset.

status        each partition's processing-attempts journal entry and committed offset; quarantined ones marked
dead-letter   sends the quarantined record to DLQ_TOPIC (reason processing-failed, raw bytes untouched) and
              commits the group's offset past it, in one Kafka transaction; then clears the journal entry
skip          commits the group's offset past the record in a Kafka transaction, writing nothing: the record
              is NOT counted and NOT dead-lettered (use only when it must be dropped)
  --partition <n>   the quarantined input partition

Safe against the running stage by refusal: dead-letter and skip refuse while the consumer group APP_ID has
active members. Stop every instance of the stage first, run the command, then start the stage again. The
transaction uses the partition task's own transactional id, so a zombie task of that partition is fenced.`;

const SPEC: CommandSpec = {
  command: 'quarantine',
  usage: USAGE,
  details: HELP.slice(USAGE.length + 2),
  options: { partition: { type: 'string' } },
  positionals: ['action'],
};
const ACTIONS = ['status', 'dead-letter', 'skip'] as const;
type Action = (typeof ACTIONS)[number];

function isAction(word: string): word is Action {
  return (ACTIONS as readonly string[]).includes(word);
}

export async function quarantineCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') {
    console.log(helpText(SPEC));
    return EXIT.ok;
  }
  const [action = 'status'] = parsed.positionals;
  if (!isAction(action)) {
    const meant = closest(action, ACTIONS);
    const hint = meant === undefined ? '' : ` (did you mean "${meant}"?)`;
    throw usageError(SPEC, `unknown quarantine action "${action}"${hint}; actions: ${ACTIONS.join(', ')}`);
  }
  const given = stringOption(parsed, 'partition');
  if (action === 'status' && given !== undefined) {
    throw usageError(SPEC, '--partition goes with dead-letter or skip, not with status');
  }
  if (action !== 'status' && given === undefined) {
    throw usageError(SPEC, `--partition is required with ${action}: the quarantined input partition`);
  }
  const partition =
    given === undefined
      ? undefined
      : numberValue(SPEC, '--partition', given, { min: 0, max: 999_999, integer: true });
  const config = loadConfig(process.env, { requireAppId: true });
  const logger = commandLogger(config, { quietInfo: true });
  const kafka = createKafka(config.kafka, `${config.appId}-quarantine`, logger, { quietRetries: true });
  assertKafkajsInternals(kafka);
  const journal = new KafkajsAttemptJournal(
    kafka,
    processingAttemptsTopic(config.appId),
    config.topics.input,
    `${config.appId}/operator@${hostname()}`,
  );
  try {
    if (partition === undefined) return await status(kafka, config, journal);
    return await resolve(kafka, config, journal, partition, action === 'dead-letter');
  } finally {
    await journal.close();
  }
}

/** The record the journal entry names is quarantined when the committed offset has not moved past it. */
function quarantinedOffset(
  attempt: JournaledAttempt | undefined,
  committed: bigint | null,
): bigint | undefined {
  if (!attempt) return undefined;
  const { offset } = attempt.entry;
  if (committed !== null && committed > offset) return undefined;
  return planAttempt(attempt.entry, offset, 'quarantine').mode === 'quarantine' ? offset : undefined;
}

async function status(kafka: Kafka, config: Config, journal: KafkajsAttemptJournal): Promise<number> {
  const committed = await committedOffsets(kafka, config.appId, config.topics.input);
  const partitions = await partitionCount(kafka, config.topics.input);
  for (let partition = 0; partition < partitions; partition += 1) {
    const attempt = await journal.read(partition);
    const offset = committed.get(partition) ?? null;
    const at = quarantinedOffset(attempt, offset);
    const entry = attempt
      ? `journal: offset ${attempt.entry.offset}, ${attempt.entry.attempts} attempt(s)${attempt.entry.isolated ? ' alone' : ''}`
      : 'journal: no entry';
    const state = at === undefined ? 'ok' : `QUARANTINED at offset ${at}`;
    console.log(`partition ${partition}: ${state}; committed ${offset ?? 'none'}; ${entry}`);
  }
  return EXIT.ok;
}

async function resolve(
  kafka: Kafka,
  config: Config,
  journal: KafkajsAttemptJournal,
  partition: number,
  deadLetter: boolean,
): Promise<number> {
  const topic = config.topics.input;
  await refuseWhileGroupActive(kafka, config.appId);
  // The task's own transactional id: fencing first, then everything is read as of after any zombie's last word.
  const producer = await createTransactionalProducer(kafka, `${config.appId}-${topic}-${partition}`, {
    transactionTimeoutMs: config.transactionTimeoutMs,
    initialRetryMs: 100,
  });
  try {
    const committed = (await committedOffsets(kafka, config.appId, topic)).get(partition) ?? null;
    const attempt = await journal.read(partition);
    const offset = quarantinedOffset(attempt, committed);
    if (offset === undefined || !attempt)
      throw new CommandError(
        `partition ${partition} of ${topic} is not quarantined (committed offset ${committed ?? 'none'}; ${attempt ? `journal entry at ${attempt.entry.offset}, ${attempt.entry.attempts} attempt(s)` : 'no journal entry'})`,
      );
    const record = await fetchRecord(kafka, topic, partition, offset);
    const records: OutgoingRecord[] = deadLetter
      ? [await deadLetterRecord(kafka, config, partition, record, attempt.entry.attempts)]
      : [];
    const transaction = await producer.begin();
    try {
      if (records.length > 0) await transaction.send(records);
      await transaction.sendOffsets(config.appId, { topic, partition, offset: offset + 1n });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
    // After the commit: a command killed between the two leaves an entry behind the committed offset, ignored.
    await journal.write(partition, null);
    console.log(
      deadLetter
        ? `partition ${partition}: record at offset ${offset} dead-lettered to ${config.topics.dlq} (processing-failed); committed offset now ${offset + 1n}`
        : `partition ${partition}: record at offset ${offset} SKIPPED (not counted, not dead-lettered); committed offset now ${offset + 1n}`,
    );
    return EXIT.ok;
  } finally {
    await producer.close();
  }
}

async function refuseWhileGroupActive(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0)
      throw new CommandError(
        `consumer group ${groupId} has ${members} active member(s) (state ${groups[0]?.state ?? 'unknown'}): stop every instance of the stage first; this command must not race with a running task`,
      );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new CommandError(`topic ${topic} does not exist`);
    return count;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The record at `offset` as the stage's consumer was handed it: read_committed through the partition fetcher (no
 * consumer group), so a record of an aborted transaction or a marker there is no record.
 */
async function fetchRecord(
  kafka: Kafka,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<FetchedRecord> {
  let record: FetchedRecord | undefined;
  await fetchPartitionRange(kafka, {
    topic,
    partition,
    isolation: 'read_committed',
    from: offset,
    end: offset + 1n,
    // The fetcher hands over only records of [from, end): the one at `offset`, if it is committed data.
    onRecords: (records) => {
      record ??= records[0];
    },
  });
  if (!record) throw new CommandError(`no committed record at ${topic}-${partition} offset ${offset}`);
  return record;
}

async function deadLetterRecord(
  kafka: Kafka,
  config: Config,
  partition: number,
  record: FetchedRecord,
  crashes: number,
): Promise<OutgoingRecord> {
  const { input, dlq } = config.topics;
  const poison: Poison = {
    reason: 'processing-failed',
    message: `quarantined: processing this record crashed the process ${crashes} times (each time processed alone); dead-lettered by an operator`,
  };
  const stage = { id: `${config.appId}/operator@${hostname()}`, version: packageVersion() };
  const headers = deadLetterHeaders(
    { topic: input, partition, offset: record.offset, timestampMs: Number(record.timestamp) },
    poison,
    Date.now(),
    stage,
    record.headers,
  );
  const lineage = lineageHeaders({
    sourceTopic: input,
    sourcePartition: partition,
    firstOffset: record.offset,
    lastOffset: record.offset,
    attemptId: attemptId(`operator.${randomBytes(4).toString('hex')}/p${partition}`, 1),
    recordCount: 1,
  });
  return {
    topic: dlq,
    partition: partition % (await partitionCount(kafka, dlq)),
    key: record.key,
    value: record.value,
    headers: { ...headers, ...lineage },
  };
}
