/** The closed list of reasons a record can never succeed (design §4). Anything else is retriable or fatal. */
export const POISON_REASONS = [
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

export type PoisonReason = (typeof POISON_REASONS)[number];

export interface Poison {
  reason: PoisonReason;
  message: string;
}

/** Source coordinates of the input record. */
export interface SourceRecordRef {
  topic: string;
  partition: number;
  /** Kept as the decimal string Kafka clients use, so offsets beyond 2^53 stay exact. */
  offset: string;
  timestampMs: number;
}

export interface StageIdentity {
  id: string;
  version: string;
}

/**
 * The `__streams.errors.*` names follow Kafka Streams KIP-1034 so existing DLQ tooling can read them;
 * what KIP-1034 does not define (reason, source timestamp, failure time, stage) carries our own prefix.
 */
export const DLQ_HEADERS = Object.freeze({
  topic: '__streams.errors.topic',
  partition: '__streams.errors.partition',
  offset: '__streams.errors.offset',
  exception: '__streams.errors.exception',
  message: '__streams.errors.message',
  reason: 'eos-rollup.dlq.reason',
  sourceTimestamp: 'eos-rollup.dlq.source.timestamp',
  failedAt: 'eos-rollup.dlq.failed.at',
  stageId: 'eos-rollup.dlq.stage.id',
  stageVersion: 'eos-rollup.dlq.stage.version',
} as const);

/** KIP-1034 expects an exception class name; consumers that group by it see one class per kind of failure. */
const EXCEPTION_BY_REASON: Readonly<Record<PoisonReason, string>> = Object.freeze({
  'null-value': 'NullValueError',
  'bad-magic-byte': 'BadMagicByteError',
  'unknown-schema-id': 'UnknownSchemaIdError',
  'avro-decode': 'AvroDecodeError',
  'incompatible-schema': 'IncompatibleSchemaError',
  'empty-host': 'ValidationError',
  'non-finite-value': 'ValidationError',
  'percent-out-of-range': 'ValidationError',
  'negative-counter': 'ValidationError',
  'timestamp-out-of-range': 'ValidationError',
  late: 'LateRecordError',
  'processing-failed': 'ProcessingError',
});

export function exceptionNameFor(reason: PoisonReason): string {
  return EXCEPTION_BY_REASON[reason];
}

export function isPoisonReason(value: string): value is PoisonReason {
  return (POISON_REASONS as readonly string[]).includes(value);
}

/**
 * Headers of a DLQ record. Original headers are kept (copied first); ours overwrite on name clash.
 * Generic over the original header value type so a caller passing kafkajs headers (Buffers, arrays)
 * gets back a value it can hand straight to the producer; domain code itself never looks inside them.
 */
export function deadLetterHeaders<V = Uint8Array | string>(
  source: SourceRecordRef,
  poison: Poison,
  failedAtMs: number,
  stage: StageIdentity,
  originalHeaders: Readonly<Record<string, V | undefined>>,
): Record<string, V | string> {
  const headers: Record<string, V | string> = {};
  for (const [name, value] of Object.entries(originalHeaders)) {
    // defineProperty, not assignment: a header named `__proto__` must stay a header, not replace the prototype.
    if (value !== undefined)
      Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  }
  headers[DLQ_HEADERS.topic] = source.topic;
  headers[DLQ_HEADERS.partition] = String(source.partition);
  headers[DLQ_HEADERS.offset] = source.offset;
  headers[DLQ_HEADERS.exception] = exceptionNameFor(poison.reason);
  headers[DLQ_HEADERS.message] = poison.message;
  headers[DLQ_HEADERS.reason] = poison.reason;
  headers[DLQ_HEADERS.sourceTimestamp] = String(source.timestampMs);
  headers[DLQ_HEADERS.failedAt] = String(failedAtMs);
  headers[DLQ_HEADERS.stageId] = stage.id;
  headers[DLQ_HEADERS.stageVersion] = stage.version;
  return headers;
}
