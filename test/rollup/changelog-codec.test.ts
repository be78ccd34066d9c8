import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { WindowAggregate } from '../../src/domain/aggregate.js';
import {
  ChangelogCorruptError,
  decodeChangelogEntry,
  encodeAggregate,
  encodeStreamTime,
  encodeStreamTimeKey,
  encodeWindowKey,
} from '../../src/rollup/changelog-codec.js';
import { generator } from '../seeded-random.js';

const T0 = Date.UTC(2024, 0, 1);

function aggregate(host: string, windowStart = T0): WindowAggregate {
  return {
    host,
    windowStart,
    count: 3,
    cpu: { min: 0.1, max: 99.9, sum: 150.30000000000001 },
    mem: { min: 0, max: 100, sum: 200 },
    disk_read_bytes: Number.MAX_SAFE_INTEGER,
    disk_write_bytes: 0,
    net_rx_bytes: 12,
    net_tx_bytes: 34,
    first_event_time: windowStart + 1,
    last_event_time: windowStart + 59_999,
    enrichment: { region: 'eu-west', datacenter: 'dub-1', role: 'web' },
  };
}

const awkwardHosts = ['web-1', 'ünïcødé-🚀', 'quote"back\\slash', 'nul\u0000byte', 'lone\ud800surrogate', ''];
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function corruption(key: Uint8Array, value: Uint8Array | null): unknown {
  try {
    decodeChangelogEntry(key, value);
  } catch (error) {
    return error;
  }
  return undefined;
}

void test('a window key is the UTF-8 JSON array ["w", host, windowStart]', () => {
  assert.equal(encodeWindowKey('web-1', T0).toString('utf8'), `["w","web-1",${T0}]`);
  assert.equal(encodeStreamTimeKey().toString('utf8'), '["t"]');
});

void test('a window key is byte for byte what JSON.stringify gives, whatever the host and window start', () => {
  // Written as text when nothing needs escaping: every other case must still match the JSON of earlier builds,
  // or compaction would keep a stale value under the old key.
  const pieces = [
    'web-1',
    'a',
    '"',
    '\\',
    '\n',
    '\u0000',
    '\u001f',
    '\u007f',
    'é',
    '中',
    '😀',
    '\ud800',
    '\udfff',
    '\u2028',
    '/',
    "'",
  ];
  const starts = [T0, 0, -0, -60_000, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1.5, 2 ** 53];
  const next = generator(20261206);
  const hosts = [''];
  for (let i = 0; i < 500; i += 1) {
    let host = '';
    for (let n = next(6); n >= 0; n -= 1) host += pieces[next(pieces.length)] ?? '';
    hosts.push(host);
  }
  for (const host of hosts) {
    for (const start of starts) {
      const expected = Buffer.from(JSON.stringify(['w', host, start]), 'utf8');
      assert.deepEqual(
        encodeWindowKey(host, start),
        expected,
        `host ${JSON.stringify(host)}, start ${start}`,
      );
    }
  }
});

void test('the same state key always encodes to the same bytes, so compaction keeps only the latest', () => {
  assert.deepEqual(encodeWindowKey('web-1', T0), encodeWindowKey('web-1', T0));
  assert.notDeepEqual(encodeWindowKey('web-1', T0), encodeWindowKey('web-1', T0 + 60_000));
});

void test('a window entry round trips for any host string, including quotes, NUL and lone surrogates', () => {
  for (const host of awkwardHosts) {
    const agg = aggregate(host, -120_000);
    assert.deepEqual(decodeChangelogEntry(encodeWindowKey(host, -120_000), encodeAggregate(agg)), {
      kind: 'window',
      host,
      windowStart: -120_000,
      aggregate: agg,
    });
  }
});

void test('a window tombstone decodes to a null aggregate', () => {
  assert.deepEqual(decodeChangelogEntry(encodeWindowKey('web-1', T0), null), {
    kind: 'window',
    host: 'web-1',
    windowStart: T0,
    aggregate: null,
  });
});

void test('a stream-time entry round trips, and its tombstone decodes to null', () => {
  assert.deepEqual(decodeChangelogEntry(encodeStreamTimeKey(), encodeStreamTime(T0 + 5)), {
    kind: 'stream-time',
    streamTimeMs: T0 + 5,
  });
  assert.deepEqual(decodeChangelogEntry(encodeStreamTimeKey(), null), {
    kind: 'stream-time',
    streamTimeMs: null,
  });
});

/** The JSON format 1 of earlier builds, as documented, built here by hand. */
function jsonV1(agg: WindowAggregate, changes: Record<string, unknown> = {}): Buffer {
  return bytes(JSON.stringify({ v: 1, ...agg, ...changes }));
}

void test('values are written in binary format 2: format byte, kind byte, fourteen float64, four strings', () => {
  const agg = aggregate('web-1');
  const value = encodeAggregate(agg);
  assert.deepEqual([value[0], value[1]], [2, 'W'.charCodeAt(0)]);
  assert.equal(value.readDoubleLE(2), agg.windowStart);
  assert.equal(value.readDoubleLE(2 + 8), agg.count);
  assert.equal(value.readDoubleLE(2 + 8 * 13), agg.last_event_time);
  assert.equal(value.readUInt16LE(2 + 8 * 14), 5);
  assert.equal(value.toString('utf8', 2 + 8 * 14 + 2, 2 + 8 * 14 + 2 + 5), 'web-1');
  assert.equal(value.length, 2 + 8 * 14 + (2 + 5) + (2 + 7) + (2 + 5) + (2 + 3));
  assert.ok(
    value.length < jsonV1(agg).length / 2,
    `${value.length} bytes against JSON's ${jsonV1(agg).length}`,
  );
  const time = encodeStreamTime(7);
  assert.deepEqual([time.length, time[0], time[1], time.readDoubleLE(2)], [10, 2, 'T'.charCodeAt(0), 7]);
});

void test('a binary value is byte for byte the format, whether its strings are ASCII or not', () => {
  // The reference writes each string through Buffer.from, the encoder writes ASCII byte by byte: every mix of
  // ASCII and wider strings across the four fields must give the same bytes.
  const pieces = ['web-1', 'a', '"', '\\', '\u0000', '\u007f', 'é', '中', '😀', '\u2028', ''];
  const next = generator(20261207);
  const text = (): string => {
    let out = '';
    for (let n = next(4); n >= 0; n -= 1) out += pieces[next(pieces.length)] ?? '';
    return out;
  };
  const withLength = (s: string): Buffer => {
    const utf8 = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16LE(utf8.length);
    return Buffer.concat([length, utf8]);
  };
  for (let i = 0; i < 300; i += 1) {
    const agg = aggregate(text());
    agg.enrichment = { region: text(), datacenter: text(), role: text() };
    const numbers = Buffer.alloc(8 * 14);
    [
      agg.windowStart,
      agg.count,
      agg.cpu.min,
      agg.cpu.max,
      agg.cpu.sum,
      agg.mem.min,
      agg.mem.max,
      agg.mem.sum,
      agg.disk_read_bytes,
      agg.disk_write_bytes,
      agg.net_rx_bytes,
      agg.net_tx_bytes,
      agg.first_event_time,
      agg.last_event_time,
    ].forEach((n, at) => numbers.writeDoubleLE(n, 8 * at));
    const expected = Buffer.concat([
      Buffer.from([2, 'W'.charCodeAt(0)]),
      numbers,
      ...[agg.host, agg.enrichment.region, agg.enrichment.datacenter, agg.enrichment.role].map(withLength),
    ]);
    assert.deepEqual(encodeAggregate(agg), expected, JSON.stringify(agg));
  }
});

void test('values in the JSON format 1 of earlier builds are still read', () => {
  for (const host of awkwardHosts) {
    const agg = aggregate(host);
    assert.deepEqual(decodeChangelogEntry(encodeWindowKey(host, T0), jsonV1(agg)), {
      kind: 'window',
      host,
      windowStart: T0,
      aggregate: agg,
    });
  }
  assert.deepEqual(decodeChangelogEntry(encodeStreamTimeKey(), bytes('{"v":1,"streamTimeMs":7}')), {
    kind: 'stream-time',
    streamTimeMs: 7,
  });
});

void test('a host UTF-8 cannot carry (a lone surrogate) is written in JSON, which escapes it', () => {
  const value = encodeAggregate(aggregate('lone\ud800surrogate'));
  assert.equal(value[0], '{'.charCodeAt(0));
});

void test('lone surrogates at the ends of two strings, which would pair up if joined, still round trip exactly', () => {
  const agg = aggregate('ends-high\ud800');
  agg.enrichment = { region: '\udc00starts-low', datacenter: 'dc\udbff', role: '\udfffrole' };
  const decoded = decodeChangelogEntry(encodeWindowKey(agg.host, T0), encodeAggregate(agg));
  assert.deepEqual(decoded, { kind: 'window', host: agg.host, windowStart: T0, aggregate: agg });
});

void test('an unknown value version or format is ChangelogCorruptError', () => {
  const error = corruption(encodeWindowKey('web-1', T0), jsonV1(aggregate('web-1'), { v: 2 }));
  assert.ok(error instanceof ChangelogCorruptError);
  assert.match(error.message, /version 2/);
  assert.ok(corruption(encodeStreamTimeKey(), bytes('{"streamTimeMs":5}')) instanceof ChangelogCorruptError);
  const format3 = Buffer.from(encodeAggregate(aggregate('web-1')));
  format3[0] = 3;
  assert.match(String(corruption(encodeWindowKey('web-1', T0), format3)), /unknown format 3/);
  assert.match(
    String(corruption(encodeStreamTimeKey(), encodeAggregate(aggregate('web-1')))),
    /kind byte/,
    'a window value under the stream-time key',
  );
});

void test('a binary value cut short, with bytes after its last field, or with a non-integer count is ChangelogCorruptError naming the field', () => {
  const whole = encodeAggregate(aggregate('web-1'));
  const key = encodeWindowKey('web-1', T0);
  assert.match(String(corruption(key, whole.subarray(0, 40))), /cut off/);
  assert.match(String(corruption(key, whole.subarray(0, whole.length - 1))), /role is cut off/);
  assert.match(String(corruption(key, Buffer.concat([whole, Buffer.from([0])]))), /after its last field/);
  const fractional = Buffer.from(whole);
  fractional.writeDoubleLE(2.5, 2 + 8);
  assert.match(String(corruption(key, fractional)), /count is not a safe integer/);
  const badUtf8 = Buffer.from(whole);
  badUtf8[2 + 8 * 14 + 2] = 0xff;
  assert.match(String(corruption(key, badUtf8)), /host is not UTF-8/);
});

void test('bytes that are not UTF-8 JSON are ChangelogCorruptError carrying the parse error as cause', () => {
  const notJson = corruption(encodeStreamTimeKey(), bytes('{"v":1,'));
  assert.ok(notJson instanceof ChangelogCorruptError);
  assert.ok(notJson.cause instanceof SyntaxError);
  const notUtf8 = corruption(Buffer.from([0x5b, 0xff, 0x5d]), null);
  assert.ok(notUtf8 instanceof ChangelogCorruptError);
  assert.ok(notUtf8.cause instanceof Error);
  assert.equal(notUtf8.name, 'ChangelogCorruptError');
});

void test('an unknown key shape is ChangelogCorruptError', () => {
  for (const key of ['["x"]', '["w","h"]', '["w","h",1.5]', '["w",1,1]', '["t",1]', '{"w":1}', '"t"']) {
    assert.ok(corruption(bytes(key), null) instanceof ChangelogCorruptError, key);
  }
});

void test('a JSON value with a missing or mistyped field is ChangelogCorruptError naming the field', () => {
  const error = corruption(encodeWindowKey('web-1', T0), jsonV1(aggregate('web-1'), { count: '3' }));
  assert.ok(error instanceof ChangelogCorruptError);
  assert.match(error.message, /count/);
  assert.ok(
    corruption(encodeWindowKey('web-1', T0), jsonV1(aggregate('web-1'), { cpu: null })) instanceof
      ChangelogCorruptError,
  );
});

void test('a value stored under another key is ChangelogCorruptError', () => {
  const error = corruption(encodeWindowKey('web-2', T0), encodeAggregate(aggregate('web-1')));
  assert.ok(error instanceof ChangelogCorruptError);
});

void test('encoding refuses non-finite numbers instead of writing them as null', () => {
  const bad = { ...aggregate('web-1'), cpu: { min: 0, max: Number.NaN, sum: 0 } };
  assert.throws(() => encodeAggregate(bad), RangeError);
  assert.throws(() => encodeStreamTime(Number.POSITIVE_INFINITY), RangeError);
});

void test('encoding refuses a counter sum beyond 2^53, which the decoder could not restore exactly', () => {
  const overflowed = { ...aggregate('web-1'), disk_read_bytes: Number.MAX_SAFE_INTEGER + 2 };
  assert.throws(() => encodeAggregate(overflowed), RangeError);
});
