import assert from 'node:assert/strict';
import { test } from 'node:test';

import { classify } from '../../src/errors/classify.js';
import {
  CommitOutcomeUnknownError,
  ConfigError,
  ERROR_CODES,
  ERROR_KINDS,
  FatalError,
  FencedError,
  RegistryUnavailableError,
  RetriableError,
  StageError,
  type ErrorCode,
} from '../../src/errors/errors.js';
import { ChangelogCorruptError } from '../../src/rollup/changelog-codec.js';

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

test('every StageError classifies as the kind its code maps to', () => {
  for (const code of ALL_CODES) {
    assert.equal(classify(new StageError(code, 'x')), ERROR_CODES[code], code);
  }
});

test('every kind has at least one code, so each recovery is reachable', () => {
  const kinds = new Set(Object.values(ERROR_CODES));
  assert.deepEqual([...kinds].sort(), [...ERROR_KINDS].sort());
});

test('a plain Error is fatal: unknown errors are never retried or skipped', () => {
  assert.equal(classify(new Error('boom')), 'fatal');
});

test('values that are not errors at all are fatal', () => {
  for (const value of ['boom', undefined, null, 42, { kind: 'retriable', code: 'KAFKA_RETRIABLE' }]) {
    assert.equal(classify(value), 'fatal');
  }
});

test('classify never throws, even for a value whose every inspection throws', () => {
  const hostile = new Proxy(
    {},
    {
      getPrototypeOf() {
        throw new Error('trap');
      },
      get() {
        throw new Error('trap');
      },
    },
  );
  assert.equal(classify(hostile), 'fatal');
});

test('RetriableError, FencedError and FatalError carry the kind of their name', () => {
  assert.equal(classify(new RetriableError('CONCURRENT_TRANSACTIONS', 'x')), 'retriable');
  assert.equal(classify(new FencedError('PRODUCER_FENCED', 'x')), 'fenced');
  assert.equal(classify(new FatalError('KAFKA_FATAL', 'x')), 'fatal');
});

test('a corrupt changelog record is fatal under its own code: a restore would read the same bytes again', () => {
  const error = new ChangelogCorruptError('changelog key is not a known state key', {
    cause: new Error('x'),
  });
  assert.equal(classify(error), 'fatal');
  assert.equal(error.code, 'CHANGELOG_CORRUPT');
  assert.equal(error.name, 'ChangelogCorruptError');
  assert.ok(error instanceof StageError);
});

test('a commit with an unknown outcome is retriable under its own code, not fenced', () => {
  const error = new CommitOutcomeUnknownError('commit timed out');
  assert.equal(classify(error), 'retriable');
  assert.equal(error.code, 'COMMIT_OUTCOME_UNKNOWN');
  assert.ok(error instanceof RetriableError);
});

test('an unavailable registry is retriable', () => {
  const error = new RegistryUnavailableError('registry answered 503');
  assert.equal(classify(error), 'retriable');
  assert.equal(error.code, 'REGISTRY_UNAVAILABLE');
});

test('a ConfigError is of kind config, keeps every problem and joins them with "; "', () => {
  const error = new ConfigError(['A="x" is not allowed: expected y', 'B is required: expected z']);
  assert.equal(classify(error), 'config');
  assert.equal(error.code, 'CONFIG_INVALID');
  assert.deepEqual(error.problems, ['A="x" is not allowed: expected y', 'B is required: expected z']);
  assert.equal(error.message, 'A="x" is not allowed: expected y; B is required: expected z');
});

test('a StageError keeps the original error as cause', () => {
  const original = new Error('library said no');
  assert.equal(new FatalError('KAFKA_FATAL', 'x', { cause: original }).cause, original);
});

test('a StageError is named after its class, so logs show which one it was', () => {
  assert.equal(new FencedError('PRODUCER_EXPIRED', 'x').name, 'FencedError');
  assert.equal(new CommitOutcomeUnknownError('x').name, 'CommitOutcomeUnknownError');
});
