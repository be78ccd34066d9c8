/**
 * bench:profile's reading of a V8 .cpuprofile: self time is hitCount × the sampling interval, grouped by where the
 * code lives (kafkajs per file, other packages per package, this project per compiled file, V8's pseudo-frames).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { groupOf, selfTimes, type CpuProfile } from '../../bench/lib/cpu-profile.js';

const frame = (functionName: string, url: string) => ({ functionName, url });

test('call frames are grouped by kafkajs file, package, compiled project file, node module or V8 pseudo-frame', () => {
  assert.equal(
    groupOf(frame('crc32C', 'file:///app/node_modules/kafkajs/src/protocol/recordBatch/crc32C/crc32C.js')),
    'kafkajs/src/protocol/recordBatch/crc32C/crc32C.js',
  );
  assert.equal(
    groupOf(frame('crc32c', 'file:///app/node_modules/@node-rs/crc32/index.js')),
    '@node-rs/crc32',
  );
  assert.equal(groupOf(frame('decode', '/app/node_modules/avsc/lib/types.js')), 'avsc');
  assert.equal(groupOf(frame('run', 'file:///app/dist/src/engine/task.js')), 'eos-rollup src/engine/task.js');
  assert.equal(groupOf(frame('_copyActual', 'node:buffer')), 'node:buffer');
  assert.equal(groupOf(frame('(garbage collector)', '')), '(garbage collector)');
  assert.equal(groupOf(frame('utf8Write', '')), '(native) utf8Write');
});

test('self time is hits × the interval, shares add up to the whole profile, largest first', () => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 1_000_000, // 1 s in µs, over 100 hits: 10 ms a hit
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), hitCount: 0 },
      { id: 2, callFrame: frame('(idle)', ''), hitCount: 50 },
      {
        id: 3,
        callFrame: frame('encode', 'file:///a/node_modules/kafkajs/src/protocol/encoder.js'),
        hitCount: 20,
      },
      {
        id: 4,
        callFrame: frame('writeInt32', 'file:///a/node_modules/kafkajs/src/protocol/encoder.js'),
        hitCount: 10,
      },
      {
        id: 5,
        callFrame: frame('encode', 'file:///a/node_modules/kafkajs/src/protocol/encoder.js'),
        hitCount: 5,
      },
      { id: 6, callFrame: frame('get', 'file:///a/dist/src/state/window-store.js'), hitCount: 15 },
    ],
  };
  const { groups, functions, totalMs } = selfTimes(profile);
  assert.equal(totalMs, 1000);
  assert.deepEqual(
    groups.map((g) => [g.name, Math.round(g.ms), g.share]),
    [
      ['(idle)', 500, 0.5],
      ['kafkajs/src/protocol/encoder.js', 350, 0.35],
      ['eos-rollup src/state/window-store.js', 150, 0.15],
    ],
  );
  assert.equal(
    Math.round(functions.find((f) => f.name === 'encode kafkajs/src/protocol/encoder.js')?.ms ?? 0),
    250,
  );
});
