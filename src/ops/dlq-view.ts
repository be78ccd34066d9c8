/**
 * Dead-letter records as an operator sees them: the KIP-1034 and eos-rollup headers decoded into named fields
 * (design §4), the selection `dlq inspect` and `dlq replay` share (reason, time), the counts by reason and by
 * source partition, and the text and JSON renderings. Pure: records and decoded payloads come in.
 */
import { DLQ_HEADERS } from '../engine/dead-letter.js';
import { LINEAGE_HEADERS, headerText } from '../engine/lineage.js';
import type { ServerMetric } from '../domain/metric.js';
import type { DecodedInput } from '../domain/process-record.js';

/** Header values as Kafka clients deliver them; a repeated header arrives as an array. */
export type HeaderValue = Uint8Array | string | (Uint8Array | string)[] | undefined;
export type RecordHeaders = Readonly<Record<string, HeaderValue>>;

/** Set on every record `dlq replay` writes back to the input; a DLQ record carrying it failed again after a replay. */
export const REPLAY_HEADERS = Object.freeze({
  /** `<dlq topic>:<dlq partition>:<dlq offset>` of the dead letter that was replayed. */
  of: 'eos-rollup.replay.of',
  /** When it was replayed, ms since the epoch. */
  at: 'eos-rollup.replay.at',
} as const);

/** Written by the stage on the dead letter itself, not carried over from the input record. */
export const STAGE_HEADER_NAMES: ReadonlySet<string> = new Set<string>([
  ...Object.values(DLQ_HEADERS),
  ...Object.values(LINEAGE_HEADERS),
]);

export interface DlqRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestampMs: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: RecordHeaders;
}

export interface SourceRef {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface DlqEntry {
  record: DlqRecord;
  /** `unknown` when the record has no reason header (not written by this stage). */
  reason: string;
  exception: string | null;
  message: string | null;
  /** Where the record was read from; null when the coordinates are missing or malformed. */
  source: SourceRef | null;
  sourceTimestampMs: number | null;
  /** The failure time header, else the dead letter's own timestamp. */
  failedAtMs: number;
  stageId: string | null;
  stageVersion: string | null;
  /** The replay.of header: this record is a replay that was dead-lettered again. */
  replayOf: string | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function bytesOf(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function decimal(value: HeaderValue): bigint | null {
  const text = headerText(value);
  return text !== null && DECIMAL.test(text) ? BigInt(text) : null;
}

function millis(value: HeaderValue): number | null {
  const n = decimal(value);
  return n !== null && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : null;
}

export function describeDlqRecord(record: DlqRecord): DlqEntry {
  const h = record.headers;
  const topic = headerText(h[DLQ_HEADERS.topic]);
  const partition = decimal(h[DLQ_HEADERS.partition]);
  const offset = decimal(h[DLQ_HEADERS.offset]);
  const source =
    topic !== null && topic !== '' && partition !== null && partition <= 2_147_483_647n && offset !== null
      ? { topic, partition: Number(partition), offset }
      : null;
  return {
    record,
    reason: headerText(h[DLQ_HEADERS.reason]) ?? 'unknown',
    exception: headerText(h[DLQ_HEADERS.exception]),
    message: headerText(h[DLQ_HEADERS.message]),
    source,
    sourceTimestampMs: millis(h[DLQ_HEADERS.sourceTimestamp]),
    failedAtMs: millis(h[DLQ_HEADERS.failedAt]) ?? record.timestampMs,
    stageId: headerText(h[DLQ_HEADERS.stageId]),
    stageVersion: headerText(h[DLQ_HEADERS.stageVersion]),
    replayOf: headerText(h[REPLAY_HEADERS.of]),
  };
}

export interface DlqFilter {
  /** null: every reason. */
  reasons: ReadonlySet<string> | null;
  /** Only records that failed at or after this time; null: any time. */
  sinceMs: number | null;
}

export function isSelected(entry: DlqEntry, filter: DlqFilter): boolean {
  if (filter.reasons !== null && !filter.reasons.has(entry.reason)) return false;
  return filter.sinceMs === null || entry.failedAtMs >= filter.sinceMs;
}

export function sourceLabel(source: SourceRef | null): string {
  return source === null ? 'unknown source' : `${source.topic}/${source.partition}`;
}

/** Counts over the selected records, and the first `limit` of them (in the order they are added) to show. */
export class DlqSummary {
  total = 0;
  selected = 0;
  readonly byReason = new Map<string, number>();
  readonly bySource = new Map<string, number>();
  readonly shown: DlqEntry[] = [];

  constructor(
    private readonly filter: DlqFilter,
    /** null: no limit. */
    private readonly limit: number | null,
  ) {}

  add(entry: DlqEntry): void {
    this.total += 1;
    if (!isSelected(entry, this.filter)) return;
    this.selected += 1;
    this.byReason.set(entry.reason, (this.byReason.get(entry.reason) ?? 0) + 1);
    const source = sourceLabel(entry.source);
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    if (this.limit === null || this.shown.length < this.limit) this.shown.push(entry);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Renderings

const HEX_BYTES_SHOWN = 48;

function iso(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

function flatHeaders(headers: RecordHeaders): [string, Uint8Array | string][] {
  return Object.entries(headers).flatMap(([name, value]) => {
    if (value === undefined) return [];
    return (Array.isArray(value) ? value : [value]).map((v): [string, Uint8Array | string] => [name, v]);
  });
}

export interface EncodedBytes {
  /** The bytes as UTF-8 text, when they are valid UTF-8. */
  text: string | null;
  base64: string;
}

function encodeBytes(value: Uint8Array | string): EncodedBytes {
  const bytes = bytesOf(value);
  let text: string | null;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = null;
  }
  return { text, base64: Buffer.from(bytes).toString('base64') };
}

/** The JSON shape of one dead letter (`dlq inspect --json`); field names are part of the contract. */
export interface DlqRecordJson {
  dlq: { topic: string; partition: number; offset: number; timestamp: string | null };
  reason: string;
  exception: string | null;
  message: string | null;
  source: { topic: string; partition: number; offset: number; timestamp: string | null } | null;
  failedAt: string | null;
  stage: { id: string | null; version: string | null };
  replayOf: string | null;
  key: EncodedBytes | null;
  value: { bytes: number; base64: string; metric: ServerMetric | null; decodeError: string | null } | null;
  headers: { name: string; text: string | null; base64: string }[];
}

export function dlqRecordJson(entry: DlqEntry, decoded: DecodedInput | null): DlqRecordJson {
  const { record } = entry;
  return {
    dlq: {
      topic: record.topic,
      partition: record.partition,
      offset: Number(record.offset),
      timestamp: iso(record.timestampMs),
    },
    reason: entry.reason,
    exception: entry.exception,
    message: entry.message,
    source:
      entry.source === null
        ? null
        : {
            topic: entry.source.topic,
            partition: entry.source.partition,
            offset: Number(entry.source.offset),
            timestamp: iso(entry.sourceTimestampMs),
          },
    failedAt: iso(entry.failedAtMs),
    stage: { id: entry.stageId, version: entry.stageVersion },
    replayOf: entry.replayOf,
    key: record.key === null ? null : encodeBytes(record.key),
    value:
      record.value === null
        ? null
        : {
            bytes: record.value.length,
            base64: Buffer.from(record.value).toString('base64'),
            metric: decoded?.kind === 'value' ? decoded.value : null,
            decodeError: decodeError(decoded),
          },
    headers: flatHeaders(record.headers).map(([name, value]) => ({ name, ...encodeBytes(value) })),
  };
}

function decodeError(decoded: DecodedInput | null): string | null {
  if (decoded === null) return 'not decoded (registry unavailable)';
  return decoded.kind === 'poison' ? `${decoded.poison.reason}: ${decoded.poison.message}` : null;
}

function hexPreview(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.subarray(0, HEX_BYTES_SHOWN)).toString('hex');
  return bytes.length > HEX_BYTES_SHOWN ? `${hex}…` : hex;
}

/** A few lines per dead letter: where it failed and why, its key and payload, and the headers it carried in. */
export function formatDlqEntry(entry: DlqEntry, decoded: DecodedInput | null): string {
  const { record } = entry;
  const source =
    entry.source === null
      ? 'unknown source'
      : `${entry.source.topic}/${entry.source.partition}@${entry.source.offset.toString()}`;
  const lines = [
    `${record.topic}/${record.partition}@${record.offset.toString()}  ${entry.reason}  failed ${iso(entry.failedAtMs) ?? '?'}  from ${source}` +
      (entry.sourceTimestampMs === null ? '' : ` (record time ${iso(entry.sourceTimestampMs) ?? '?'})`),
    `  error   ${entry.exception ?? '?'}: ${entry.message ?? '(no message)'}`,
  ];
  if (record.key === null) lines.push('  key     null');
  else {
    const key = encodeBytes(record.key);
    lines.push(`  key     ${key.text === null ? `hex ${hexPreview(record.key)}` : JSON.stringify(key.text)}`);
  }
  if (record.value === null) lines.push('  value   null');
  else if (decoded?.kind === 'value') lines.push(`  value   ServerMetric ${JSON.stringify(decoded.value)}`);
  else {
    lines.push(
      `  value   ${record.value.length} bytes, not decodable (${decodeError(decoded) ?? '?'}); hex ${hexPreview(record.value)}`,
    );
  }
  const carried = flatHeaders(record.headers).filter(([name]) => !STAGE_HEADER_NAMES.has(name));
  if (carried.length > 0) {
    const shown = carried.map(([name, value]) => {
      const encoded = encodeBytes(value);
      return `${name}=${encoded.text ?? `base64:${encoded.base64}`}`;
    });
    lines.push(`  headers ${shown.join(', ')}`);
  }
  if (entry.stageId !== null) lines.push(`  stage   ${entry.stageId} ${entry.stageVersion ?? ''}`.trimEnd());
  return lines.join('\n');
}
