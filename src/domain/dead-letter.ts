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

/** The dead letter the engine writes for a metric poison: its KIP-1034 exception name derived from its reason. */
export function metricDeadLetter(poison: Poison): Poison & { exception: string } {
  return { ...poison, exception: exceptionNameFor(poison.reason) };
}
