/**
 * Gathers what the auditor needs, as read_committed consumers see it: the input up to the group's committed
 * offsets (never stopping at an expected count), and the output, DLQ and changelog to their end offsets; plus
 * the end offsets under both isolation levels (an open transaction shows as a gap) and what read_uncommitted
 * sees beyond read_committed (aborted records: proof that faults happened).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { AuditData, AuditInputRecord, AuditWrittenRecord } from '../audit/types.js';
import type { MetricRollup } from '../domain/metric.js';
import type { MetricDecoder } from '../serde/metric-decoder.js';
import { avroType } from '../serde/schema-files.js';
import { HEADER_LENGTH } from '../serde/wire-format.js';
import { committedOffsets, partitionRanges } from './offsets.js';
import { readToEnd } from './topic-reader.js';

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
  decoder: MetricDecoder;
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
}

type WrittenTopic = AuditWrittenRecord['topic'];

function headerStrings(headers: KafkaMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

async function readAllRecords(
  kafka: Kafka,
  topic: string,
  readUncommitted: boolean,
  endOffsets?: Map<number, bigint>,
  onProgress?: (topic: string, recordsRead: number) => void,
) {
  const records: { partition: number; message: KafkaMessage }[] = [];
  const result = await readToEnd(kafka, {
    topic,
    readUncommitted,
    groupIdPrefix: 'eos-rollup-audit',
    timeoutMs: 10 * 60_000,
    ...(endOffsets ? { endOffsets } : {}),
    onMessages: (partition, messages) => {
      for (const message of messages) records.push({ partition, message });
      onProgress?.(topic, records.length);
    },
  });
  if (!result.complete) throw new Error(`could not read ${topic} to its end offsets`);
  return records;
}

/** End offsets under both isolation levels, waiting up to settleMs for open transactions to finish. */
async function settledEnds(kafka: Kafka, topics: string[], settleMs: number): Promise<AuditData['ends']> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const ends: AuditData['ends'] = [];
    for (const topic of topics) {
      const committed = await partitionRanges(kafka, topic, 'read_committed');
      const uncommitted = await partitionRanges(kafka, topic, 'read_uncommitted');
      for (const [partition, range] of committed) {
        ends.push({
          topic,
          partition,
          committedEnd: range.end,
          uncommittedEnd: uncommitted.get(partition)?.end ?? range.end,
        });
      }
    }
    if (ends.every((e) => e.committedEnd === e.uncommittedEnd) || Date.now() >= deadline) return ends;
    await sleep(250);
  }
}

export async function readForAudit(kafka: Kafka, options: AuditReadOptions): Promise<AuditRead> {
  const { topics } = options;
  const written: [WrittenTopic, string][] = [
    ['output', topics.output],
    ['dlq', topics.dlq],
    ['changelog', topics.changelog],
  ];
  const ends = await settledEnds(
    kafka,
    written.map(([, name]) => name),
    options.settleMs,
  );

  const committed = await committedOffsets(kafka, options.groupId, topics.input);
  const inputRanges = await partitionRanges(kafka, topics.input, 'read_committed');
  const partitions = [...inputRanges].map(([partition, range]) => ({
    partition,
    committed: committed.get(partition) ?? null,
    start: range.start,
    end: range.end,
  }));
  const readUpTo = new Map(partitions.map((p) => [p.partition, p.committed ?? p.start]));
  const rawInput = await readAllRecords(kafka, topics.input, false, readUpTo, options.onProgress);
  await options.decoder.prepare(rawInput.map((r) => r.message.value));
  const input: AuditInputRecord[] = rawInput.map(({ partition, message }) => {
    const decoded = options.decoder.decode(message.value);
    return {
      partition,
      offset: BigInt(message.offset),
      decoded: decoded.kind === 'metric' ? decoded : { kind: 'poison', reason: decoded.poison.reason },
    };
  });

  const rollupType = avroType('metricRollup');
  const records: AuditWrittenRecord[] = [];
  const aborted: AbortedCounts[] = [];
  for (const [kind, topic] of written) {
    const visible = await readAllRecords(kafka, topic, false, undefined, options.onProgress);
    const raw = await readAllRecords(kafka, topic, true, undefined, options.onProgress);
    aborted.push({ topic, committed: visible.length, uncommitted: raw.length });
    for (const { partition, message } of visible) {
      const record: AuditWrittenRecord = {
        topic: kind,
        partition,
        offset: BigInt(message.offset),
        headers: headerStrings(message.headers),
      };
      if (kind === 'output' && message.value) {
        try {
          record.rollup = {
            ...(rollupType.fromBuffer(message.value.subarray(HEADER_LENGTH)) as MetricRollup),
          };
        } catch {
          // left undefined: the auditor reports an undecodable rollup
        }
      }
      records.push(record);
    }
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
    },
    aborted,
  };
}
