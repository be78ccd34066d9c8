import assert from 'node:assert/strict';
import { test } from 'node:test';

import { KeyValueStore, type KeyValueWrites } from '../../src/engine/key-value-store.js';
import { bindProcessor, type Processor, type RecordMetadata } from '../../src/engine/processor.js';
import { STRING_SERDE, type Serde } from '../../src/engine/serde.js';

type Writes = KeyValueWrites<string, string>;

const NUMBER_TEXT: Serde<number> = {
  serialize: (n) => Buffer.from(String(n)),
  deserialize: (bytes) =>
    bytes === null || bytes.length === 0
      ? { kind: 'poison', poison: { reason: 'empty', message: 'no number', exception: 'EmptyError' } }
      : { kind: 'value', value: Number(bytes.toString()) },
};

const record = (offset: number, value: string | null): RecordMetadata & { value: Buffer | null } => ({
  partition: 0,
  offset: BigInt(offset),
  timestampMs: 0,
  key: null,
  headers: {},
  value: value === null ? null : Buffer.from(value),
});

/** Forwards each value, then dead-letters negative numbers after forwarding (which must not leak out). */
function bound(punctuations: number[]) {
  const processor: Processor<number, number, Writes> = {
    process: (value, _record, context) => {
      context.forward('k', value);
      if (value < 0) return { reason: 'negative', message: `${value}` };
      context.store.advanceStreamTime(value);
      return undefined;
    },
    punctuate: (context) => {
      punctuations.push(context.streamTimeMs() ?? -1);
      context.forward('tick', 0);
    },
  };
  return bindProcessor({
    input: NUMBER_TEXT,
    output: NUMBER_TEXT,
    createStore: () => new KeyValueStore({ key: STRING_SERDE, value: STRING_SERDE }),
    createProcessor: () => processor,
  })(0);
}

void test('a deserializer’s poison is a dead letter with its reason; the processor never sees the record', () => {
  const p = bound([]);
  p.begin();
  assert.deepEqual(p.process(record(0, '')), {
    kind: 'dead-letter',
    poison: { reason: 'empty', message: 'no number', exception: 'EmptyError' },
  });
});

void test('a dead letter drops what the processor forwarded for that record', () => {
  const p = bound([]);
  p.begin();
  assert.deepEqual(p.process(record(0, '-1')), {
    kind: 'dead-letter',
    poison: { reason: 'negative', message: '-1' },
  });
  const next = p.process(record(1, '5'));
  assert.ok(next.kind === 'forwarded');
  assert.deepEqual(
    next.emitted.map((e) => e.key.toString()),
    ['k', 'tick'],
    'only the next record’s output and its punctuation',
  );
});

void test('punctuate runs when stream time moves, not when it stays', () => {
  const punctuations: number[] = [];
  const p = bound(punctuations);
  p.begin();
  p.process(record(0, '5'));
  p.process(record(1, '3'));
  p.process(record(2, '9'));
  assert.deepEqual(punctuations, [5, 9]);
  assert.equal(p.wouldPunctuate(100), false, 'no wouldPunctuate: the idle flush never fires');
});

void test('outside a transaction the store is not reachable', () => {
  const p = bound([]);
  assert.throws(() => p.process(record(0, '1')), /no store transaction is open/);
});
