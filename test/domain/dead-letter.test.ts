import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  exceptionNameFor,
  isPoisonReason,
  metricDeadLetter,
  POISON_REASONS,
  type Poison,
} from '../../src/domain/dead-letter.js';
import {
  deadLetterHeaders,
  DLQ_HEADERS,
  type SourceRecordRef,
  type StageIdentity,
} from '../../src/engine/dead-letter.js';

const source: SourceRecordRef = {
  topic: 'server-metrics',
  partition: 3,
  offset: '9007199254740993',
  timestampMs: 1704067200123,
};
const poison: Poison = { reason: 'percent-out-of-range', message: 'cpu_percent is outside [0, 100]: 140' };
const stage: StageIdentity = { id: 'eos-rollup', version: '0.1.0' };
const FAILED_AT = 1704067260000;

void test('DLQ header names follow KIP-1034 for the fields it defines and carry the eos-rollup prefix otherwise', () => {
  assert.deepEqual(
    { ...DLQ_HEADERS },
    {
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
    },
  );
});

void test('the DLQ header name table is frozen', () => {
  assert.equal(Object.isFrozen(DLQ_HEADERS), true);
});

void test('DLQ header values describe the source record, the poison, the failure time and the stage as strings', () => {
  assert.deepEqual(deadLetterHeaders(source, metricDeadLetter(poison), FAILED_AT, stage, {}), {
    '__streams.errors.topic': 'server-metrics',
    '__streams.errors.partition': '3',
    '__streams.errors.offset': '9007199254740993',
    '__streams.errors.exception': 'ValidationError',
    '__streams.errors.message': 'cpu_percent is outside [0, 100]: 140',
    'eos-rollup.dlq.reason': 'percent-out-of-range',
    'eos-rollup.dlq.source.timestamp': '1704067200123',
    'eos-rollup.dlq.failed.at': '1704067260000',
    'eos-rollup.dlq.stage.id': 'eos-rollup',
    'eos-rollup.dlq.stage.version': '0.1.0',
  });
});

void test('every poison reason maps to its error class name, the five validation reasons to ValidationError', () => {
  const byReason = Object.fromEntries(POISON_REASONS.map((r) => [r, exceptionNameFor(r)]));
  assert.deepEqual(byReason, {
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
});

void test('original headers are kept, byte values untouched and undefined ones dropped', () => {
  const traceId = Uint8Array.from([0, 255, 1]);
  const headers = deadLetterHeaders(source, metricDeadLetter(poison), FAILED_AT, stage, {
    'trace-id': traceId,
    'content-type': 'avro',
    absent: undefined,
  });
  assert.equal(headers['trace-id'], traceId);
  assert.equal(headers['content-type'], 'avro');
  assert.equal('absent' in headers, false);
});

void test('on a header name clash the DLQ value overwrites the original', () => {
  const headers = deadLetterHeaders(source, metricDeadLetter(poison), FAILED_AT, stage, {
    '__streams.errors.topic': 'spoofed',
  });
  assert.equal(headers['__streams.errors.topic'], 'server-metrics');
});

void test('an original header named __proto__ stays a header and does not change the prototype', () => {
  const originals = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
  const headers = deadLetterHeaders(source, metricDeadLetter(poison), FAILED_AT, stage, originals);
  assert.equal(Object.getPrototypeOf(headers), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value, 'x');
});

void test('isPoisonReason accepts exactly the closed list', () => {
  assert.equal(
    POISON_REASONS.every((r) => isPoisonReason(r)),
    true,
  );
  assert.equal(isPoisonReason('timeout'), false);
});
