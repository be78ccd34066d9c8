/**
 * The auditor's own view of the data contract. Nothing here comes from the stage's modules: the auditor is a
 * separate judge, so its types, header names and rules are written from the documented contract (README).
 */

/** Reasons a record may be dead-lettered, as the README lists them (`eos-rollup.dlq.reason`). */
export const AUDIT_POISON_REASONS = [
  'null-value',
  'bad-magic-byte',
  'unknown-schema-id',
  'avro-decode',
  'incompatible-schema',
  'empty-host',
  'non-finite-value',
  'percent-out-of-range',
  'negative-counter',
  'timestamp-out-of-range',
  'late',
  'processing-failed',
] as const;

export type AuditPoisonReason = (typeof AUDIT_POISON_REASONS)[number];

/** A ServerMetric (v2 reader shape) as the auditor decoded it. */
export interface AuditMetric {
  host: string;
  timestamp: number;
  cpu_percent: number;
  mem_percent: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  load_avg_1m: number | null;
}

export interface AuditStats {
  min: number;
  max: number;
  sum: number;
  avg: number;
}

/** A MetricRollup as the auditor decoded it. */
export interface AuditRollup {
  host: string;
  region: string;
  datacenter: string;
  role: string;
  window_start: number;
  window_end: number;
  count: number;
  cpu_percent: AuditStats;
  mem_percent: AuditStats;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  first_event_time: number;
  last_event_time: number;
}

/** One inventory entry (HostInfo). */
export interface AuditHostInfo {
  host: string;
  region: string;
  datacenter: string;
  role: string;
}

/** One input record as the auditor's own read_committed reader saw it, decoded by the auditor's own decoder. */
export interface AuditInputRecord {
  partition: number;
  offset: bigint;
  /** What decoding the value gave: a metric, or a poison pill with its reason. */
  decoded: { kind: 'metric'; metric: AuditMetric } | { kind: 'poison'; reason: AuditPoisonReason };
}

/** A record of the output, DLQ or changelog topic as read_committed saw it. */
export interface AuditWrittenRecord {
  topic: 'output' | 'dlq' | 'changelog';
  partition: number;
  offset: bigint;
  /** Already decoded to strings. */
  headers: Record<string, string>;
  /** Output only: the decoded MetricRollup (absent when it could not be decoded). DLQ source coordinates come from headers. */
  rollup?: AuditRollup;
  /** Changelog only: the raw key and value (null: a tombstone); absent when the caller did not read them. */
  key?: Uint8Array | null;
  value?: Uint8Array | null;
}

/** An input record a test made break processing on purpose; only these may be dead-lettered `processing-failed`. */
export interface AuditCulprit {
  partition: number;
  offset: bigint;
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
  /** Records declared to break processing (they may, and must, be dead-lettered as processing-failed). */
  culprits?: readonly AuditCulprit[];
  /** The inventory as the test built it and kept it during the run: every rollup's enrichment is checked. */
  inventory?: readonly AuditHostInfo[];
  /** The changelog records carry their keys and values: replay them and check the open-window state. */
  changelogRead?: boolean;
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
  'valid-record-dead-lettered',
  'enrichment-mismatch',
  'changelog-mismatch',
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
  /** Input records the auditor judged poison (decode, validation, late, sum overflow, declared culprits). */
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
  /** Open-window state keys found in the replayed changelog (latest value per key). */
  changelogWindows: number;
}

export interface AuditReport {
  violations: Violation[];
  counts: AuditCounts;
  /** Per ViolationKind, how many. */
  byKind: Partial<Record<ViolationKind, number>>;
}
