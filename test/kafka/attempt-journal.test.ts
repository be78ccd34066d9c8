/** The processing-attempts journal's record format: what the stage writes it reads back; anything else is no entry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  attemptKey,
  decodeAttemptEntry,
  encodeAttemptEntry,
  processingAttemptsTopic,
} from '../../src/kafka/stage/attempt-journal.js';

test('names: one topic per APP_ID, one key per input partition', () => {
  assert.equal(processingAttemptsTopic('eos-rollup'), 'eos-rollup-processing-attempts');
  assert.equal(attemptKey('server-metrics', 3), 'server-metrics/3');
});

test('an entry round-trips, offsets beyond 2^53 exactly, with who wrote it and when for operators', () => {
  const entry = {
    offset: 9_007_199_254_740_993n,
    attempts: 2,
    isolated: true,
    isolateUntil: 9_007_199_254_741_000n,
  };
  const value = encodeAttemptEntry(entry, 'eos-rollup/host-1', 1_700_000_000_000);
  assert.deepEqual(JSON.parse(value.toString('utf8')), {
    offset: '9007199254740993',
    attempts: 2,
    isolated: true,
    isolateUntil: '9007199254741000',
    writer: 'eos-rollup/host-1',
    atMs: 1_700_000_000_000,
  });
  assert.deepEqual(decodeAttemptEntry(value), entry);
});

test('a tombstone or an unreadable value is no entry, never an error', () => {
  assert.equal(decodeAttemptEntry(null), undefined);
  for (const text of [
    'not json',
    'null',
    '{"offset":"-1","attempts":1,"isolated":false,"isolateUntil":"5"}',
    '{"offset":"1","attempts":0,"isolated":false,"isolateUntil":"5"}',
    '{"offset":"1","attempts":1.5,"isolated":false,"isolateUntil":"5"}',
    '{"offset":1,"attempts":1,"isolated":false,"isolateUntil":"5"}',
    '{"offset":"1","attempts":1,"isolated":"no","isolateUntil":"5"}',
  ])
    assert.equal(decodeAttemptEntry(Buffer.from(text, 'utf8')), undefined, text);
});
