import assert from 'node:assert/strict';
import { test } from 'node:test';

import { KeyValueStore } from '../../src/engine/key-value-store.js';
import { STRING_SERDE, type Serde } from '../../src/engine/serde.js';

const NUMBER: Serde<number> = {
  serialize: (n) => Buffer.from(String(n)),
  deserialize: (bytes) =>
    bytes === null
      ? { kind: 'poison', poison: { reason: 'null', message: 'null' } }
      : { kind: 'value', value: Number(bytes.toString()) },
};
const store = () => new KeyValueStore({ key: STRING_SERDE, value: NUMBER });

void test('a transaction sees its own writes; the committed state changes only when it is applied', () => {
  const s = store();
  const tx = s.begin();
  tx.put('a', 1);
  assert.equal(tx.get('a'), 1);
  assert.equal(s.get('a'), undefined, 'not committed yet');
  tx.apply();
  assert.equal(s.get('a'), 1);
  assert.equal(s.size, 1);
});

void test('a discarded transaction leaves the store as before begin, stream time included', () => {
  const s = store();
  const first = s.begin();
  first.put('a', 1);
  first.advanceStreamTime(100);
  first.apply();
  const tx = s.begin();
  tx.put('a', 2);
  tx.delete('a');
  tx.put('b', 3);
  tx.advanceStreamTime(500);
  tx.discard();
  assert.equal(s.get('a'), 1);
  assert.equal(s.get('b'), undefined);
  assert.equal(s.streamTimeMs, 100);
});

void test('one open transaction at a time, and a closed one refuses use', () => {
  const s = store();
  const tx = s.begin();
  assert.throws(() => s.begin(), /transaction is open/);
  tx.discard();
  assert.throws(() => {
    tx.put('a', 1);
  }, /closed/);
  s.begin().discard();
});

void test('the changelog holds the latest value per key, tombstones and the moved stream time, and restores the same state', () => {
  const s = store();
  const first = s.begin();
  first.put('a', 1);
  first.put('b', 2);
  const firstLog = first.prepare();
  first.apply();
  const tx = s.begin();
  tx.put('a', 5);
  tx.put('a', 6);
  tx.delete('b');
  tx.advanceStreamTime(42);
  const log = tx.prepare();
  tx.apply();
  assert.equal(log.length, 3, 'a, b tombstone, stream time');
  assert.equal(log.filter((e) => e.value === null).length, 1);

  const restored = store();
  for (const entry of [...firstLog, ...log]) restored.restore(entry.key, entry.value);
  assert.equal(restored.get('a'), 6);
  assert.equal(restored.get('b'), undefined);
  assert.equal(restored.streamTimeMs, 42);
  assert.equal(restored.size, 1);
});

void test('a key that looks like the stream-time key stays an entry', () => {
  const s = store();
  const tx = s.begin();
  tx.put('\u0000', 7);
  const log = tx.prepare();
  tx.apply();
  const restored = store();
  for (const entry of log) restored.restore(entry.key, entry.value);
  assert.equal(restored.get('\u0000'), 7);
  assert.equal(restored.streamTimeMs, null);
});
