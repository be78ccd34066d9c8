import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { MetricRollup } from '../../src/domain/metric.js';
import { bindProcessor } from '../../src/engine/processor.js';
import { rollupSupplier } from '../../src/rollup/rollup-processor.js';
import { FakeBroker, FakeDecoder, metricValue, T0 } from '../engine/fakes.js';

const WINDOWS = { sizeMs: 60_000, graceMs: 10_000 };

function rollup() {
  return bindProcessor(
    rollupSupplier({
      windows: WINDOWS,
      decoder: new FakeDecoder(new FakeBroker()),
      encodeRollup: (value) => Buffer.from(JSON.stringify(value)),
      lookupHost: () => undefined,
    }),
  )(0);
}

const record = (offset: number, value: Buffer | null) => ({
  partition: 0,
  offset: BigInt(offset),
  timestampMs: 0,
  key: null,
  headers: {},
  value,
});

void test('decoder and validation poison become dead letters with the KIP-1034 exception of their reason', () => {
  const p = rollup();
  p.begin();
  const undecodable = p.process(record(0, Buffer.from('bad bytes')));
  const invalid = p.process(record(1, metricValue('a', T0, 140)));
  assert.deepEqual(
    [undecodable, invalid].map((o) => (o.kind === 'dead-letter' ? o.poison.exception : o.kind)),
    ['AvroDecodeError', 'ValidationError'],
  );
});

void test('a closed window is forwarded once, keyed by its host; an idle advance closes the last one', () => {
  const p = rollup();
  const tx = p.begin();
  p.process(record(0, metricValue('a', T0 + 1000)));
  const closing = p.process(record(1, metricValue('b', T0 + 80_000)));
  assert.ok(closing.kind === 'forwarded');
  assert.deepEqual(
    closing.emitted.map((e) => [e.key.toString(), (JSON.parse(e.value.toString()) as MetricRollup).host]),
    [['a', 'a']],
  );
  tx.apply();
  assert.equal(p.wouldPunctuate(T0 + 80_000), false, 'b’s window is still open');
  assert.equal(p.wouldPunctuate(T0 + 130_000), true, 'its end plus the grace closes it');
  p.begin().advanceStreamTime(T0 + 130_000);
  assert.deepEqual(
    p.punctuate().map((e) => e.key.toString()),
    ['b'],
  );
});
