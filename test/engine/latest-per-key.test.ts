import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LatestPerKey } from '../../src/engine/latest-per-key.js';
import { generator } from '../seeded-random.js';

type Change = [key: string, value: string | null];

/** The store a restore builds by applying every record in order: latest wins, null deletes. */
function appliedInOrder(changes: readonly Change[]): Map<string, string> {
  const store = new Map<string, string>();
  for (const [key, value] of changes) {
    if (value === null) store.delete(key);
    else store.set(key, value);
  }
  return store;
}

/** The same through LatestPerKey: the store, every record it was handed, and the most keys held at once. */
function appliedInRuns(
  changes: readonly Change[],
  maxKeys: number,
): { store: Map<string, string>; applied: Change[] } {
  const store = new Map<string, string>();
  const applied: Change[] = [];
  const run = new LatestPerKey(maxKeys, (key, value) => {
    const change: Change = [key.toString('latin1'), value === null ? null : value.toString('latin1')];
    applied.push(change);
    if (change[1] === null) store.delete(change[0]);
    else store.set(change[0], change[1]);
  });
  for (const [key, value] of changes)
    run.add(Buffer.from(key, 'latin1'), value === null ? null : Buffer.from(value, 'latin1'));
  run.flush();
  return { store, applied };
}

test('each key reaches the store once per run, with its latest value or its tombstone', () => {
  const changes: Change[] = [
    ['a', '1'],
    ['b', '1'],
    ['a', '2'],
    ['c', '1'],
    ['b', null],
    ['a', '3'],
  ];
  const { store, applied } = appliedInRuns(changes, 100);
  assert.deepEqual(applied, [
    ['c', '1'],
    ['b', null],
    ['a', '3'],
  ]);
  assert.deepEqual([...store].sort(), [...appliedInOrder(changes)].sort());
});

test('runs bounded by distinct keys leave the store as applying every record in order does', () => {
  const random = generator(7);
  for (let trial = 0; trial < 200; trial++) {
    // Keys that differ in one byte only, bytes past ASCII, and the empty key: a key is its bytes.
    const keys = ['', 'k', 'k\u0000', 'k\u00ff', 'w1', 'w2', 'w3', 'w4'].slice(0, 2 + random(7));
    const changes: Change[] = Array.from({ length: random(60) }, () => [
      keys[random(keys.length)] ?? '',
      random(4) === 0 ? null : `v${random(1000)}`,
    ]);
    const maxKeys = 1 + random(5);
    const { store, applied } = appliedInRuns(changes, maxKeys);
    assert.deepEqual(
      [...store].sort(),
      [...appliedInOrder(changes)].sort(),
      JSON.stringify({ changes, maxKeys }),
    );
    assert.ok(applied.length <= changes.length, 'never more records than were read');
  }
});

test('a run is applied once it holds maxKeys distinct keys, so what is held stays bounded', () => {
  const applied: string[] = [];
  const run = new LatestPerKey(3, (key) => applied.push(key.toString()));
  for (const key of ['a', 'b', 'a', 'b']) run.add(Buffer.from(key), null);
  assert.deepEqual(applied, [], 'two distinct keys: still held');
  run.add(Buffer.from('c'), null);
  assert.deepEqual(applied, ['a', 'b', 'c'], 'the third distinct key applies the run');
  run.add(Buffer.from('a'), null);
  run.flush();
  assert.deepEqual(applied, ['a', 'b', 'c', 'a']);
});
