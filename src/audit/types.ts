import type { PoisonReason } from '../domain/dead-letter.js';
import type { MetricRollup, ServerMetric } from '../domain/metric.js';

/** One input record as a read_committed reader saw it, its value already decoded by the caller (decoding needs the registry). */
export interface AuditInputRecord {
  partition: number;
  offset: bigint;
  /** What decoding the value gave: a metric, or a poison pill with its reason. */
  decoded: { kind: 'metric'; metric: ServerMetric } | { kind: 'poison'; reason: PoisonReason };
}

/** A record of the output, DLQ or changelog topic as read_committed saw it. */
export interface AuditWrittenRecord {
  topic: 'output' | 'dlq' | 'changelog';
  partition: number;
  offset: bigint;
  /** Already decoded to strings. */
  headers: Record<string, string>;
  /** Output only: the decoded MetricRollup (absent when it could not be decoded). DLQ source coordinates come from headers. */
  rollup?: MetricRollup;
}

export interface AuditData {
  windows: { sizeMs: number; graceMs: number };
  inputTopic: string;
  /** read_committed input records below the committed offsets, per partition in offset order. */
  input: AuditInputRecord[];
  /** Per input partition: group committed offset (null = none), start offset, and read_committed end offset (LSO). */
  partitions: { partition: number; committed: bigint | null; start: bigint; end: bigint }[];
  written: AuditWrittenRecord[];
  /** Per written topic-partition: read_committed end vs read_uncommitted end, taken after a settle time. */
  ends: { topic: string; partition: number; committedEnd: bigint; uncommittedEnd: bigint }[];
  /** Check that committed offsets reached the input ends (a drained run). */
  expectDrained: boolean;
}

export const VIOLATION_KINDS = [
  'rollup-missing',
  'rollup-duplicated',
  'rollup-wrong',
  'rollup-unexpected',
  'count-mismatch',
  'poison-missing-from-dlq',
  'poison-duplicated-in-dlq',
  'valid-record-in-dlq',
  'torn-transaction',
  'input-covered-twice',
  'input-not-covered',
  'hanging-transaction',
  'not-drained',
] as const;

export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  kind: ViolationKind;
  detail: string;
}

export interface AuditCounts {
  /** Input data records below the committed offsets. */
  inputRecords: number;
  /** Input records the auditor aggregated. */
  validRecords: number;
  /** Input records the auditor judged poison (decode, validation, late, sum overflow). */
  poisonRecords: number;
  /** Output records seen, duplicates included. */
  rollups: number;
  /** Sum of the counts of distinct emitted rollups (one per partition, host and window). */
  rollupRecordCount: number;
  /** DLQ records of this input topic, distinct by source partition and offset; unattributable ones each count once. */
  dlqRecords: number;
  /** Records in windows neither closed nor emitted: they are in the stage's state. */
  openWindowRecords: number;
  /** Windows closed by their partition's final stream time: each must be in the output exactly once. */
  expectedWindows: number;
  /** Windows neither closed nor emitted. */
  openWindows: number;
  /** Distinct transactions among written records (by their lineage headers, attempt id included). */
  attempts: number;
}

export interface AuditReport {
  violations: Violation[];
  counts: AuditCounts;
  /** Per ViolationKind, how many. */
  byKind: Partial<Record<ViolationKind, number>>;
}
