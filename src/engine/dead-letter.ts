/**
 * Dead letters as the engine writes them: raw bytes untouched, the source coordinates and the reason in headers.
 * Which reasons exist is the processor's business; the engine only needs a reason, a message and, for KIP-1034
 * readers that group by it, an exception class name.
 */

/** Why a record can never succeed, as a processor (or a deserializer) says it. */
export interface DeadLetter {
  reason: string;
  message: string;
  /** KIP-1034's exception class name; a processor that has none gets DEFAULT_EXCEPTION. */
  exception?: string | undefined;
}

/** The engine's own reason: processing threw (or crashed the process) too often for one record. */
export const PROCESSING_FAILED = 'processing-failed';
export const DEFAULT_EXCEPTION = 'ProcessingError';

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

/**
 * Headers of a DLQ record. Original headers are kept (copied first); ours overwrite on name clash.
 * Generic over the original header value type so a caller passing kafkajs headers (Buffers, arrays)
 * gets back a value it can hand straight to the producer; domain code itself never looks inside them.
 */
export function deadLetterHeaders<V = Uint8Array | string>(
  source: SourceRecordRef,
  poison: DeadLetter,
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
  headers[DLQ_HEADERS.exception] = poison.exception ?? DEFAULT_EXCEPTION;
  headers[DLQ_HEADERS.message] = poison.message;
  headers[DLQ_HEADERS.reason] = poison.reason;
  headers[DLQ_HEADERS.sourceTimestamp] = String(source.timestampMs);
  headers[DLQ_HEADERS.failedAt] = String(failedAtMs);
  headers[DLQ_HEADERS.stageId] = stage.id;
  headers[DLQ_HEADERS.stageVersion] = stage.version;
  return headers;
}
