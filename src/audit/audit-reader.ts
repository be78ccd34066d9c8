/**
 * Gathers what the auditor needs through its own fetch path (log-reader.ts) and its own decoding: the input up
 * to the group's committed offsets (never stopping at an expected count), and the output, DLQ and changelog to
 * their ends, each as read_committed sees it by the producers' markers; the end offsets under both isolation
 * levels (an open transaction shows as a gap); and what read_uncommitted sees beyond read_committed (aborted
 * records: proof that faults happened).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { settleWithin, within } from '../errors/deadline.js';
import { decodeRollup, MetricCodec, registryLookup, type RegistryAccess } from './metric-codec.js';
import { headerStrings, LogReader, type PartitionLog, type RawRecord } from './log-reader.js';
import type {
  AuditCulprit,
  AuditData,
  AuditHostInfo,
  AuditInputRecord,
  AuditWrittenRecord,
} from './types.js';

export interface AuditTopics {
  input: string;
  output: string;
  dlq: string;
  changelog: string;
}

export interface AuditReadOptions {
  groupId: string;
  topics: AuditTopics;
  windows: { sizeMs: number; graceMs: number };
  expectDrained: boolean;
  /** How long an open transaction may take to settle before it counts as hanging. */
  settleMs: number;
  registry: RegistryAccess;
  /** Input records made to break processing on purpose: only these may be dead-lettered processing-failed. */
  culprits?: readonly AuditCulprit[];
  /** The inventory, when it stayed as given during the run: enrichment is then checked. */
  inventory?: readonly AuditHostInfo[];
  /** Called as records arrive (the topic being read and its records so far), for a progress line. */
  onProgress?: (topic: string, recordsRead: number) => void;
}

export interface AbortedCounts {
  topic: string;
  committed: number;
  uncommitted: number;
}

export interface AuditRead {
  data: AuditData;
  /** Per written topic: records read_committed saw and records read_uncommitted saw. */
  aborted: AbortedCounts[];
  /** The same for the input (aborted upstream transactions), all of it, not only below the committed offsets. */
  inputSeen: AbortedCounts;
}

type WrittenTopic = AuditWrittenRecord['topic'];

/** End offsets under both isolation levels, waiting up to settleMs for open transactions to finish. */
async function settledEnds(
  reader: LogReader,
  topics: string[],
  settleMs: number,
): Promise<AuditData['ends']> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const ends: AuditData['ends'] = [];
    for (const topic of topics) {
      for (const e of await reader.ends(topic)) {
        ends.push({
          topic,
          partition: e.partition,
          committedEnd: e.lastStable,
          uncommittedEnd: e.highWatermark,
        });
      }
    }
    if (ends.every((e) => e.committedEnd === e.uncommittedEnd) || Date.now() >= deadline) return ends;
    await sleep(250);
  }
}

/** How long the admin client may take to connect, or to fetch the group's offsets (its retries included). */
const ADMIN_MS = 60_000;

async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  try {
    await within(admin.connect(), ADMIN_MS, 'audit: connecting the admin client');
    const [found] = await within(
      admin.fetchOffsets({ groupId, topics: [topic] }),
      ADMIN_MS,
      `audit: the committed offsets of ${groupId}`,
    );
    const out = new Map<number, bigint>();
    for (const p of found?.partitions ?? []) {
      // -1: the group has no offset for the partition.
      if (p.offset !== '-1') out.set(p.partition, BigInt(p.offset));
    }
    return out;
  } finally {
    await settleWithin(admin.disconnect(), ADMIN_MS);
  }
}

/**
 * Reads a topic one partition at a time, handing each partition's log to `onLog` before the next is read, so
 * only one partition's raw records are held at once: callers keep what they take out of them. Returns what
 * read_committed and read_uncommitted saw of the whole topic.
 */
async function readTopic(
  reader: LogReader,
  topic: string,
  onLog: (log: PartitionLog) => void | Promise<void>,
  onProgress?: (topic: string, recordsRead: number) => void,
): Promise<AbortedCounts> {
  const seen: AbortedCounts = { topic, committed: 0, uncommitted: 0 };
  for (const partition of await reader.partitions(topic)) {
    const before = seen.uncommitted;
    const log = await reader.readPartition(topic, partition, {
      onRecords: (n) => onProgress?.(topic, before + n),
    });
    seen.committed += log.view.visible.length;
    seen.uncommitted += log.records;
    await onLog(log);
  }
  return seen;
}

/** Every input record counted in full; those below the committed offsets decoded for the audit. */
async function readInput(
  reader: LogReader,
  readUpTo: ReadonlyMap<number, bigint>,
  options: AuditReadOptions,
): Promise<{ input: AuditInputRecord[]; inputSeen: AbortedCounts }> {
  const codec = new MetricCodec(registryLookup(options.registry));
  const input: AuditInputRecord[] = [];
  const inputSeen = await readTopic(
    reader,
    options.topics.input,
    async ({ partition, view }) => {
      const upTo = readUpTo.get(partition) ?? 0n;
      const audited = view.visible.filter((r) => BigInt(r.offset) < upTo);
      await codec.prepare(audited.map((record) => record.value));
      for (const record of audited) {
        input.push({ partition, offset: BigInt(record.offset), decoded: codec.decode(record.value) });
      }
    },
    options.onProgress,
  );
  return { input, inputSeen };
}

/** What the audit keeps of a record the stage wrote: its headers, and the rollup or changelog entry it holds. */
function writtenRecord(kind: WrittenTopic, partition: number, message: RawRecord): AuditWrittenRecord {
  const record: AuditWrittenRecord = {
    topic: kind,
    partition,
    offset: BigInt(message.offset),
    headers: headerStrings(message.headers),
  };
  if (kind === 'output') {
    const rollup = decodeRollup(message.value);
    if (rollup !== null) record.rollup = rollup;
  }
  if (kind === 'changelog') {
    // Copies: kafkajs's are views of the whole fetched response, which they would keep alive.
    record.key = message.key && Buffer.from(message.key);
    record.value = message.value && Buffer.from(message.value);
  }
  return record;
}

export async function readForAudit(kafka: Kafka, options: AuditReadOptions): Promise<AuditRead> {
  const { topics } = options;
  const reader = await LogReader.open(kafka);
  try {
    const written: [WrittenTopic, string][] = [
      ['output', topics.output],
      ['dlq', topics.dlq],
      ['changelog', topics.changelog],
    ];
    const ends = await settledEnds(
      reader,
      written.map(([, name]) => name),
      options.settleMs,
    );

    const committed = await committedOffsets(kafka, options.groupId, topics.input);
    const inputEnds = await reader.ends(topics.input);
    const partitions = inputEnds.map((e) => ({
      partition: e.partition,
      committed: committed.get(e.partition) ?? null,
      start: e.start,
      end: e.lastStable,
    }));
    const readUpTo = new Map(partitions.map((p) => [p.partition, p.committed ?? p.start]));
    const { input, inputSeen } = await readInput(reader, readUpTo, options);
    const aborted: AbortedCounts[] = [];
    const records: AuditWrittenRecord[] = [];
    for (const [kind, topic] of written) {
      const seen = await readTopic(
        reader,
        topic,
        ({ partition, view }) => {
          for (const message of view.visible) records.push(writtenRecord(kind, partition, message));
        },
        options.onProgress,
      );
      aborted.push(seen);
    }
    return {
      data: {
        windows: options.windows,
        inputTopic: topics.input,
        input,
        partitions,
        written: records,
        ends,
        expectDrained: options.expectDrained,
        changelogRead: true,
        ...(options.culprits ? { culprits: options.culprits } : {}),
        ...(options.inventory ? { inventory: options.inventory } : {}),
      },
      aborted,
      inputSeen,
    };
  } finally {
    await reader.close();
  }
}
