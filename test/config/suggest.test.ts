import assert from 'node:assert/strict';
import { test } from 'node:test';

import { closest, editDistance, unknownVariables } from '../../src/config/suggest.js';

const KNOWN = ['KAFKA_BROKERS', 'APP_ID', 'WINDOW_MS', 'GRACE_MS', 'LOG_LEVEL', 'EOS_ROLLUP_FAULT'];

test('edit distance counts insertions, deletions and substitutions', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
});

test('a near miss of a command is suggested, another word is not', () => {
  const commands = ['run', 'produce', 'inventory', 'topics', 'audit', 'lag', 'dlq'];
  assert.equal(closest('prodce', commands), 'produce');
  assert.equal(closest('audti', commands), 'audit');
  assert.equal(closest('deploy', commands), undefined);
  assert.equal(closest('x', commands), undefined);
});

test('the misspellings operators bring from other tools are named with the setting they meant', () => {
  const env = {
    WINDOW_SIZE_MS: '30000',
    KAFKA_BROKER: 'k:9092',
    APPLICATION_ID: 'rollup',
    EOS_ROLLUP_WINDOW_MS: '1000',
    GRACE_SM: '1',
  };
  assert.deepEqual(unknownVariables(env, KNOWN), [
    { name: 'APPLICATION_ID', meant: 'APP_ID' },
    { name: 'EOS_ROLLUP_WINDOW_MS', meant: 'WINDOW_MS' },
    { name: 'GRACE_SM', meant: 'GRACE_MS' },
    { name: 'KAFKA_BROKER', meant: 'KAFKA_BROKERS' },
    { name: 'WINDOW_SIZE_MS', meant: 'WINDOW_MS' },
  ]);
});

test("the rest of the environment is none of the stage's business", () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/root',
    KAFKA_OPTS: '-Xmx1g',
    NODE_ENV: 'production',
    JAVA_HOME: '/usr/lib/jvm',
    APP_ID: 'known',
    EOS_ROLLUP_FAULT: 'known',
  };
  assert.deepEqual(unknownVariables(env, KNOWN), []);
});

test('swapped neighbours are one edit', () => {
  assert.equal(editDistance('audti', 'audit'), 1);
});
