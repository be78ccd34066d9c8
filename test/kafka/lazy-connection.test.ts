/**
 * LazyConnection: one open shared by concurrent callers, a failed open forgotten so the next use retries, and a
 * close that disconnects only what was connected, quietly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LazyConnection } from '../../src/kafka/client/lazy-connection.js';

function counting(failOpens = 0) {
  const calls = { opens: 0, shuts: 0 };
  const connection = new LazyConnection(
    () => {
      calls.opens += 1;
      return calls.opens <= failOpens ? Promise.reject(new Error('refused')) : Promise.resolve();
    },
    () => {
      calls.shuts += 1;
      return Promise.reject(new Error('already gone'));
    },
  );
  return { calls, connection };
}

test('concurrent uses share one open', async () => {
  const { calls, connection } = counting();
  await Promise.all([connection.ensure(), connection.ensure(), connection.ensure()]);
  await connection.ensure();
  assert.equal(calls.opens, 1);
});

test('a failed open is forgotten: the next use opens again', async () => {
  const { calls, connection } = counting(1);
  await assert.rejects(connection.ensure(), /refused/);
  await connection.ensure();
  assert.equal(calls.opens, 2);
});

test('close disconnects only a connection that was made, swallows its error, and a later use reconnects', async () => {
  const { calls, connection } = counting();
  await connection.close();
  assert.equal(calls.shuts, 0);
  await connection.ensure();
  await connection.close();
  assert.equal(calls.shuts, 1);
  await connection.ensure();
  assert.equal(calls.opens, 2);
});
