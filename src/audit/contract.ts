/**
 * The documented contract the auditor judges by, written from the README (topics, DLQ and lineage headers,
 * validation, windows) rather than taken from the stage, so that a bug in the stage's rules cannot hide itself.
 */
import type { AuditMetric, AuditPoisonReason } from './types.js';

/** Lineage headers every record the stage writes carries. */
export const LINEAGE = {
  sourceTopic: 'eos-rollup.source.topic',
  sourcePartition: 'eos-rollup.source.partition',
  firstOffset: 'eos-rollup.source.offset.first',
  lastOffset: 'eos-rollup.source.offset.last',
  attempt: 'eos-rollup.txn.attempt',
  records: 'eos-rollup.txn.records',
} as const;

/** DLQ headers: KIP-1034 source coordinates plus the stage's reason. */
export const DLQ = {
  topic: '__streams.errors.topic',
  partition: '__streams.errors.partition',
  offset: '__streams.errors.offset',
  reason: 'eos-rollup.dlq.reason',
} as const;

export interface AuditLineage {
  sourceTopic: string;
  sourcePartition: number;
  firstOffset: bigint;
  lastOffset: bigint;
  attemptId: string;
  recordCount: number;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function count(text: string | undefined): number | null {
  if (text === undefined || !DECIMAL.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

export function parseOffset(text: string | undefined): bigint | null {
  return text !== undefined && DECIMAL.test(text) ? BigInt(text) : null;
}

/** Null when any lineage header is missing or malformed: such a record cannot be tied to a whole transaction. */
export function readLineage(headers: Readonly<Record<string, string>>): AuditLineage | null {
  const sourceTopic = headers[LINEAGE.sourceTopic];
  const sourcePartition = count(headers[LINEAGE.sourcePartition]);
  const firstOffset = parseOffset(headers[LINEAGE.firstOffset]);
  const lastOffset = parseOffset(headers[LINEAGE.lastOffset]);
  const attemptId = headers[LINEAGE.attempt];
  const recordCount = count(headers[LINEAGE.records]);
  if (
    sourceTopic === undefined ||
    sourceTopic === '' ||
    sourcePartition === null ||
    firstOffset === null ||
    lastOffset === null ||
    attemptId === undefined ||
    attemptId === '' ||
    recordCount === null
  ) {
    return null;
  }
  return { sourceTopic, sourcePartition, firstOffset, lastOffset, attemptId, recordCount };
}

/** Source coordinates of a DLQ record; null when they are missing or malformed. */
export function dlqSource(
  headers: Readonly<Record<string, string>>,
): { topic: string; partition: number; offset: bigint } | null {
  const topic = headers[DLQ.topic];
  const partition = count(headers[DLQ.partition]);
  const offset = parseOffset(headers[DLQ.offset]);
  if (topic === undefined || partition === null || offset === null) return null;
  return { topic, partition, offset };
}

/** Event time must lie in [2000-01-01, 2100-01-01]: outside, the record is poison. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2100, 0, 1);

/**
 * The validation rules, in the order of the README's list. The first broken rule names the reason; which one
 * wins for a record breaking several is not part of the contract, so the auditor never compares reasons of
 * genuine poison, only whether a record is poison at all. Never reads the wall clock.
 */
export function invalidReason(m: AuditMetric): AuditPoisonReason | null {
  if (m.host.trim() === '') return 'empty-host';
  const doubles = [m.cpu_percent, m.mem_percent, ...(m.load_avg_1m === null ? [] : [m.load_avg_1m])];
  if (doubles.some((d) => !Number.isFinite(d))) return 'non-finite-value';
  if ([m.cpu_percent, m.mem_percent].some((p) => p < 0 || p > 100)) return 'percent-out-of-range';
  const counters = [m.disk_read_bytes, m.disk_write_bytes, m.net_rx_bytes, m.net_tx_bytes];
  if (counters.some((c) => c < 0)) return 'negative-counter';
  if (!Number.isFinite(m.timestamp) || m.timestamp < EARLIEST_MS || m.timestamp > LATEST_MS)
    return 'timestamp-out-of-range';
  return null;
}

/** Tumbling windows aligned to the epoch. */
export function windowStart(timestampMs: number, sizeMs: number): number {
  return Math.floor(timestampMs / sizeMs) * sizeMs;
}

/** The enrichment an unknown host gets. */
export const UNKNOWN = 'unknown';
