/**
 * The kafkajs patches in patches/ (applied by patch-package at install, in sequence) changes how kafkajs encodes and schedules,
 * never what it sends. These tests pin the version the patch was reviewed against, prove each patch is applied,
 * and check the bytes against an encoding of the Kafka record format written here from the protocol spec.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { repoRoot } from '../../scripts/stack/paths.js';
import { crc32cImplementation, recordOffset, recordTimestampMs } from '../../src/kafkajs-internals/index.js';
import { generator } from '../seeded-random.js';
import {
  originalProduceRequest,
  type KafkajsEncoder,
  type ProduceMessage,
  type ProduceRequestArgs,
} from './kafkajs-original-produce.js';
import { originalSendMessages } from './kafkajs-original-send-messages.js';

/** kafkajs has no `exports` map, so its internal modules resolve by path. */
const requireFromKafkajs = createRequire(__filename);

/** kafkajs's logger interface, saying nothing: the patched modules are driven directly with fakes. */
const silent = (): void => undefined;
interface SilentLogger {
  namespace(): SilentLogger;
  debug(): void;
  info(): void;
  warn(): void;
  error(): void;
}
const logger: SilentLogger = {
  namespace: () => logger,
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
};

/** The patched record encoder measures a record and writes it into its batch later; toEncoder writes it alone. */
interface EncodedRecord {
  size: number;
  toEncoder(): { buffer: Buffer };
}
type Headers = Record<string, Buffer | string | (Buffer | string)[]>;
interface RecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}
type EncodeRecord = (record: RecordInput) => EncodedRecord;
interface Message {
  key: string;
  partition: number;
}
type GroupMessages = (args: {
  topic: string;
  partitionMetadata: { partitionId: number }[];
  messages: Message[];
  partitioner: (args: { message: Message }) => number;
}) => Record<string, Message[]>;
interface RequestQueueInstance {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}
type RequestQueueClass = new (options: {
  maxInFlightRequests: number;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  clientId: string;
  broker: string;
  logger: { debug(): void; info(): void; warn(): void; error(): void };
}) => RequestQueueInstance;

const encodeRecord = requireFromKafkajs('kafkajs/src/protocol/recordBatch/record/v0') as EncodeRecord;
const groupMessagesPerPartition = requireFromKafkajs(
  'kafkajs/src/producer/groupMessagesPerPartition',
) as GroupMessages;
const RequestQueue = requireFromKafkajs('kafkajs/src/network/requestQueue') as RequestQueueClass;
/** What the record batch encoder calls: the patched module, native when @node-rs/crc32 loads. */
const crc32C = requireFromKafkajs('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
/** kafkajs's table-driven JavaScript CRC32C, which the patch leaves alone (signed; made unsigned below). */
const jsCrc32C = requireFromKafkajs('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as (
  buffer: Buffer,
) => number;
const produceRequest = requireFromKafkajs('kafkajs/src/protocol/requests/produce/v3/request') as (
  args: ProduceRequestArgs & { compression?: number },
) => { encode(): Promise<KafkajsEncoder> };

/** Zigzag varint, as Kafka's record format encodes lengths and deltas. */
function varint(value: number): Buffer {
  return varintOfBigInt(BigInt(value));
}

function varintOfBigInt(value: bigint): Buffer {
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (zigzag > 0n);
  return Buffer.from(bytes);
}

function varBytes(value: Buffer | string | null): Buffer {
  if (value === null) return varint(-1);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint(bytes.length), bytes]);
}

/** Record v2 (KIP-98): length, attributes, timestamp delta, offset delta, key, value, headers. */
function referenceRecord(record: RecordInput): Buffer {
  const headers = Object.entries(record.headers).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((v) => Buffer.concat([varBytes(name), varBytes(v)])),
  );
  const body = Buffer.concat([
    Buffer.from([0]),
    varint(record.timestampDelta),
    varint(record.offsetDelta),
    varBytes(record.key),
    varBytes(record.value),
    varint(headers.length),
    ...headers,
  ]);
  return Buffer.concat([varint(body.length), body]);
}

test('kafkajs is the version the patch was reviewed against, and every patched file carries the patch', () => {
  const version = (
    JSON.parse(readFileSync(requireFromKafkajs.resolve('kafkajs/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  assert.equal(version, '2.2.4');
  assert.ok(
    readdirSync(join(repoRoot(), 'patches')).some((name) => name.startsWith(`kafkajs+${version}+001+`)),
  );
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.postinstall ?? '', /patch-package --error-on-fail/);
  for (const file of [
    'cluster/index.js',
    'network/requestQueue/index.js',
    'producer/eosManager/index.js',
    'producer/groupMessagesPerPartition.js',
    'producer/sendMessages.js',
    'protocol/encoder.js',
    'protocol/recordBatch/crc32C/index.js',
    'protocol/recordBatch/record/v0/index.js',
    'protocol/recordBatch/v0/index.js',
    'protocol/requests/produce/v3/request.js',
  ]) {
    const source = readFileSync(requireFromKafkajs.resolve(`kafkajs/src/${file}`), 'utf8');
    assert.match(source, /eos-rollup patch/, `${file} is patched`);
  }
});

test('the patched record encoder writes the bytes the Kafka record format prescribes, headers included', () => {
  const random = generator(7);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => random(256)));
  for (let i = 0; i < 500; i++) {
    const headers: Headers = {};
    for (let h = random(8); h > 0; h--) {
      const name = `h${random(5)}${'é'.repeat(random(2))}`;
      headers[name] =
        random(3) === 0
          ? [bytes(random(40)), `s${random(9)}`]
          : random(2)
            ? bytes(random(700))
            : 'v'.repeat(random(300));
    }
    const record: RecordInput = {
      offsetDelta: random(100_000),
      timestampDelta: random(2 ** 31),
      key: random(5) === 0 ? null : bytes(random(100)),
      value: random(7) === 0 ? null : bytes(random(3000)),
      headers,
    };
    const encoded = encodeRecord(record);
    assert.deepEqual(encoded.toEncoder().buffer, referenceRecord(record), `record ${i}`);
    assert.equal(encoded.size, referenceRecord(record).length, `record ${i}: its size`);
  }
});

interface VarintEncoder {
  readonly buffer: Buffer;
  writeVarInt(value: number): VarintEncoder;
  writeVarLong(value: unknown): VarintEncoder;
}
const VarintEncoderClass = requireFromKafkajs('kafkajs/src/protocol/encoder') as {
  new (initialSize?: number): VarintEncoder;
  sizeOfVarLong(value: unknown): number;
};
const KafkajsLong = requireFromKafkajs('kafkajs/src/utils/long') as { fromString(text: string): unknown };

test("the patched varint writers give the record format's zigzag bytes: negative, at every byte boundary, and past 2^52 through Long", () => {
  const boundaries = [
    0,
    1,
    63,
    64,
    127,
    128,
    8191,
    8192,
    2 ** 20,
    2 ** 27,
    2 ** 30 - 1,
    2 ** 30,
    2 ** 31 - 1,
  ];
  const ints = boundaries.flatMap((v) => [v, -v, -v - 1]).filter((v) => v >= -(2 ** 31) && v < 2 ** 31);
  for (const value of ints) {
    // An encoder of exactly one byte: the writer must grow it itself, as before.
    assert.deepEqual(new VarintEncoderClass(1).writeVarInt(value).buffer, varint(value), `varint ${value}`);
  }
  const longs = [
    ...ints,
    2 ** 35,
    2 ** 49 + 3,
    2 ** 52 - 1,
    2 ** 52,
    -(2 ** 52),
    -(2 ** 52) + 1,
    1_764_806_400_123,
  ];
  for (const value of longs) {
    const bytes = new VarintEncoderClass(1).writeVarLong(value).buffer;
    assert.deepEqual(bytes, varint(value), `varlong ${value}`);
    assert.equal(VarintEncoderClass.sizeOfVarLong(value), bytes.length, `size of varlong ${value}`);
  }
  // Past ±2^52 and as Long objects the writer keeps kafkajs's Long arithmetic: still the same bytes.
  for (const text of [
    '9007199254740993',
    '-9007199254740993',
    '9223372036854775807',
    '-9223372036854775808',
  ]) {
    const expected = varintOfBigInt(BigInt(text));
    assert.deepEqual(
      new VarintEncoderClass().writeVarLong(KafkajsLong.fromString(text)).buffer,
      expected,
      text,
    );
    assert.equal(VarintEncoderClass.sizeOfVarLong(KafkajsLong.fromString(text)), expected.length, text);
  }
  assert.deepEqual(
    new VarintEncoderClass().writeVarLong(2 ** 53).buffer,
    varint(2 ** 53),
    'number past 2^52',
  );
});

type RecordDecoder = (
  decoder: unknown,
  batchContext: { firstOffset: string; firstTimestamp: string; magicByte: number },
) => { timestamp: string; offset: string; key: Buffer | null; value: Buffer | null };
const decodeRecord = requireFromKafkajs(
  'kafkajs/src/protocol/recordBatch/record/v0/decoder',
) as RecordDecoder;
const KafkajsDecoder = requireFromKafkajs('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => {
  offset: number;
};

test("the patched record decoder gives each record's timestamp and offset as the batch's first plus its delta, exactly, past 2^53 too", () => {
  // Past 2^53 a double rounds (2^53 + 1 reads as 2^53): those cases must take the 64-bit path and still be exact.
  const firsts = ['0', '-1', '1700000000000', '9007199254740990', '9007199254740993', '9223372036854775000'];
  const timestampDeltas = [0n, 1n, -1n, 63n, 64n, -65n, 127n, 128n, 2n ** 31n, 2n ** 48n - 1n, 2n ** 48n];
  timestampDeltas.push(-(2n ** 48n), 2n ** 49n, 2n ** 52n + 7n, -(2n ** 55n), 2n ** 60n);
  const offsetDeltas = [0, 1, 63, 64, 2 ** 20, 2 ** 30];
  for (const first of firsts) {
    for (const timestampDelta of timestampDeltas) {
      for (const offsetDelta of offsetDeltas) {
        const body = Buffer.concat([
          Buffer.from([0]),
          varintOfBigInt(timestampDelta),
          varint(offsetDelta),
          varBytes('k'),
          varBytes(Buffer.from([1, 2, 3])),
          varint(0),
        ]);
        const decoder = new KafkajsDecoder(body);
        const record = decodeRecord(decoder, { firstOffset: first, firstTimestamp: first, magicByte: 2 });
        const what = `first ${first}, timestamp delta ${timestampDelta}, offset delta ${offsetDelta}`;
        assert.equal(record.timestamp, String(BigInt(first) + timestampDelta), what);
        assert.equal(record.offset, String(BigInt(first) + BigInt(offsetDelta)), what);
        // The numbers the stage reads, without the strings: exact below 2^53, the strings' value past it.
        const fresh = decodeRecord(new KafkajsDecoder(body), {
          firstOffset: first,
          firstTimestamp: first,
          magicByte: 2,
        });
        assert.equal(recordOffset(fresh), BigInt(first) + BigInt(offsetDelta), what);
        assert.equal(recordTimestampMs(fresh), Number(BigInt(first) + timestampDelta), what);
        assert.deepEqual([record.key?.toString(), [...(record.value ?? [])]], ['k', [1, 2, 3]], what);
        assert.equal(decoder.offset, body.length, `${what}: the whole record read`);
      }
    }
  }
});

test("the patched record decoder slices a record's key when it is first read: the bytes readVarIntBytes gave, null kept null", () => {
  const keys: (string | null)[] = [null, '', 'k', 'x'.repeat(200)];
  for (const key of keys) {
    const body = Buffer.concat([
      Buffer.from([0]),
      varint(0),
      varint(0),
      varBytes(key),
      varBytes('v'),
      varint(0),
    ]);
    const reference = new KafkajsDecoder(body) as unknown as {
      offset: number;
      readVarIntBytes(): Buffer | null;
    };
    reference.offset = 3;
    const expected = reference.readVarIntBytes();
    const decoder = new KafkajsDecoder(body);
    const record = decodeRecord(decoder, { firstOffset: '0', firstTimestamp: '0', magicByte: 2 });
    assert.equal(decoder.offset, body.length, `key ${key}: the whole record read`);
    assert.equal(record.value?.toString(), 'v');
    // Not sliced before it is read: no own key property, and the getter's first read makes it.
    assert.equal(Object.getOwnPropertyDescriptor(record, 'key'), undefined);
    assert.deepStrictEqual(record.key, expected, `key ${key}`);
    assert.equal(record.key, record.key, 'sliced once');
    if (expected !== null) assert.equal(record.key?.buffer, body.buffer, 'a view of the fetch, as before');
  }
  const replaced = decodeRecord(
    new KafkajsDecoder(
      Buffer.concat([Buffer.from([0]), varint(0), varint(0), varBytes('k'), varBytes('v'), varint(0)]),
    ),
    {
      firstOffset: '0',
      firstTimestamp: '0',
      magicByte: 2,
    },
  );
  replaced.key = Buffer.from('mine');
  assert.equal(replaced.key.toString(), 'mine');
});

/** kafkajs 2.2.4's own header collection, as the patch found it: the reference its result must equal. */
function originalHeaders(decoded: { key: string; value: Buffer }[]): Record<string, unknown> {
  return decoded.reduce<Record<string, unknown>>(
    (obj, { key, value }) => ({
      ...obj,
      [key]:
        obj[key] === undefined
          ? value
          : Array.isArray(obj[key])
            ? (obj[key] as unknown[]).concat([value])
            : [obj[key], value],
    }),
    {},
  );
}

test("the patched record decoder collects headers as kafkajs's reduce did: order, repeated names, inherited names, __proto__", () => {
  const lists: [string, string][][] = [
    [],
    [['a', '1']],
    [
      ['eos-attempt', 'x'],
      ['eos-source-topic', 'in'],
      ['eos-source-partition', '3'],
    ],
    [
      ['dup', '1'],
      ['other', '2'],
      ['dup', '3'],
      ['dup', '4'],
    ],
    [
      ['toString', 'inherited name'],
      ['__proto__', 'own property, not a prototype'],
      ['__proto__', 'again'],
      ['constructor', 'c'],
    ],
  ];
  for (const list of lists) {
    const body = Buffer.concat([
      Buffer.from([0]),
      varint(0),
      varint(0),
      varBytes(null),
      varBytes(null),
      varint(list.length),
      ...list.map(([name, text]) => Buffer.concat([varBytes(name), varBytes(text)])),
    ]);
    const decoder = new KafkajsDecoder(body);
    const decoded = decodeRecord(decoder, {
      firstOffset: '0',
      firstTimestamp: '0',
      magicByte: 2,
    }) as unknown as { headers: Record<string, unknown> };
    const expected = originalHeaders(list.map(([key, text]) => ({ key, value: Buffer.from(text) })));
    const what = JSON.stringify(list);
    assert.equal(decoder.offset, body.length, `${what}: the headers skipped to the record's end`);
    assert.deepStrictEqual(decoded.headers, expected, what);
    assert.deepEqual(Object.getOwnPropertyNames(decoded.headers), Object.getOwnPropertyNames(expected), what);
    assert.equal(Object.getPrototypeOf(decoded.headers), Object.prototype, `${what}: the prototype is kept`);
  }
});

test('the patched record decoder reads headers when they are first read: once, past null values, replaceable by an assignment', () => {
  const body = Buffer.concat([
    Buffer.from([0]),
    varint(0),
    varint(0),
    varBytes('k'),
    varBytes('v'),
    varint(3),
    varBytes('a'),
    varBytes('1'),
    varBytes('empty'),
    varBytes(null),
    varBytes('b'),
    varBytes('2'),
  ]);
  const decode = () => {
    const decoder = new KafkajsDecoder(body);
    const record = decodeRecord(decoder, {
      firstOffset: '7',
      firstTimestamp: '0',
      magicByte: 2,
    }) as unknown as {
      key: Buffer;
      value: Buffer;
      offset: string;
      timestamp: string;
      isControlRecord: boolean;
      headers: Record<string, unknown>;
    };
    assert.equal(decoder.offset, body.length, 'the decoder ends where the record does');
    return record;
  };
  const record = decode();
  assert.equal(record.key.toString(), 'k');
  assert.equal(record.value.toString(), 'v');
  assert.equal(record.offset, '7');
  assert.equal(record.isControlRecord, false);
  assert.ok('headers' in record);
  assert.deepStrictEqual(record.headers, { a: Buffer.from('1'), empty: null, b: Buffer.from('2') });
  assert.equal(record.headers, record.headers, 'decoded once');
  // The documented difference: headers is the class's getter, not an own property a spread would copy.
  assert.equal(Object.getOwnPropertyDescriptor(record, 'headers'), undefined);
  const replaced = decode();
  replaced.headers = { mine: 'x' };
  assert.deepStrictEqual(replaced.headers, { mine: 'x' });
  // Offset and timestamp are getters too, printed when read, and replaceable.
  assert.equal(Object.getOwnPropertyDescriptor(record, 'offset'), undefined);
  replaced.offset = '9';
  assert.equal(replaced.offset, '9');
  assert.equal(recordOffset(replaced), 9n, 'an assigned offset is the one read');
});

test('messages are grouped per partition in their original order (the patched grouping appends in place)', () => {
  const messages = Array.from({ length: 5000 }, (_, i) => ({ key: `k${i}`, partition: (i * 7) % 6 }));
  const grouped = groupMessagesPerPartition({
    topic: 't',
    partitionMetadata: [{ partitionId: 0 }],
    messages,
    partitioner: ({ message }) => message.partition,
  });
  assert.deepEqual(Object.keys(grouped).sort(), ['0', '1', '2', '3', '4', '5']);
  for (const [partition, list] of Object.entries(grouped)) {
    assert.deepEqual(
      list,
      messages.filter((m) => String(m.partition) === partition),
    );
  }
});

test('an idle request queue schedules no timer; a throttled one with pending requests still does', () => {
  const queue = new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'patch-test',
    broker: '127.0.0.1:0',
    logger,
  });
  try {
    // Unpatched, this armed a setTimeout with a negative delay that re-armed itself forever.
    queue.checkPendingRequests();
    assert.equal(queue.throttleCheckTimeoutId, null);

    queue.throttledUntil = Date.now() + 60_000;
    queue.pending.push({});
    queue.scheduleCheckPendingRequests();
    assert.notEqual(queue.throttleCheckTimeoutId, null);
  } finally {
    queue.pending.length = 0;
    queue.destroy();
  }
});

test("CRC32C gives the check values of its definition, natively on this platform, and equals kafkajs's own", () => {
  assert.equal(crc32cImplementation(), 'native', '@node-rs/crc32 loads on linux-x64');
  // RFC 3720 (iSCSI) B.4 and the "123456789" check value of the CRC-32C definition.
  assert.equal(crc32C(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32C(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32C(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32C(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32C(Buffer.alloc(0)), 0);
  const random = generator(11);
  for (const size of [1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4096, 65_537, 1_048_583]) {
    for (let round = 0; round < 3; round++) {
      const bytes = Buffer.from(Array.from({ length: size }, () => random(256)));
      // A view into a larger buffer too: the encoder checksums a subarray of its own buffer.
      const view = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4])]).subarray(3, 3 + size);
      const expected = jsCrc32C(bytes) >>> 0;
      assert.equal(crc32C(bytes), expected, `${size} bytes`);
      assert.equal(crc32C(view), expected, `${size} bytes, a view`);
    }
  }
});

test('without @node-rs/crc32, kafkajs falls back to its JavaScript CRC32C, silently and with the same values', () => {
  // A fresh process whose module resolution refuses @node-rs/crc32, as on a platform without a prebuilt binary.
  const script = `
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request.startsWith('@node-rs/crc32')) throw new Error('no binary for this platform');
      return resolve.call(this, request, ...rest);
    };
    const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C');
    process.stdout.write(JSON.stringify({ native: crc32C.native, check: crc32C(Buffer.from('123456789')) }));
  `;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot(), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '', 'nothing logged');
  assert.deepEqual(JSON.parse(run.stdout), { native: false, check: 0xe3069283 });
});

test('the patched produce path sends the bytes kafkajs 2.2.4 sent, byte for byte', async (t) => {
  const dateNow = 1_764_806_400_123;
  t.mock.method(Date, 'now', () => dateNow);
  const random = generator(23);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => random(256)));
  const newHeaders = () => {
    const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
    for (let h = random(4); h > 0; h--)
      headers[`h${random(5)}`] = random(2) ? bytes(random(60)) : `s${random(99)}`;
    return headers;
  };
  // As the stage sends them: runs of records sharing one headers object (their encoding is shared), and others.
  const shared = [newHeaders(), newHeaders(), { 'eos-rollup.txn.attempt': 'i/p0#1', é: ['a', bytes(3)] }];
  const message = (): ProduceMessage => {
    const headers = random(2) === 0 ? newHeaders() : (shared[random(shared.length)] ?? {});
    return {
      key: random(6) === 0 ? null : random(2) ? `host-${random(10_000)}` : bytes(random(60)),
      value: random(9) === 0 ? null : bytes(random(2000)),
      ...(random(3) === 0 ? {} : { headers }),
      // Timestamps of other lengths too: kafkajs takes the first and last by their text, not their value.
      ...(random(5) === 0
        ? {}
        : {
            timestamp: String(random(10) === 0 ? random(100_000) : dateNow - 10_000_000 + random(9_000_000)),
          }),
      partition: 0,
    };
  };
  for (let i = 0; i < 60; i++) {
    const transactional = random(4) !== 0;
    const args: ProduceRequestArgs = {
      acks: -1,
      timeout: 30_000,
      transactionalId: transactional ? `app-${i}` : null,
      producerId: String(1000 + random(100_000)),
      producerEpoch: random(50),
      topicData: Array.from({ length: 1 + random(3) }, (_, topic) => ({
        topic: `topic-${topic}`,
        partitions: Array.from({ length: 1 + random(4) }, (_, partition) => ({
          partition,
          firstSequence: random(1_000_000),
          messages: Array.from({ length: random(10) === 0 ? 0 : 1 + random(300) }, message),
        })),
      })),
    };
    const patched = (await produceRequest(args).encode()).buffer;
    assert.ok(patched.equals(originalProduceRequest(args, dateNow)), `request ${i}`);
  }
  // A headers object changed between two sends is encoded afresh: the shared encoding lives for one batch only.
  const headers: Record<string, string> = { lineage: 'first' };
  const args = (): ProduceRequestArgs => ({
    acks: -1,
    timeout: 30_000,
    transactionalId: 'app',
    producerId: '7',
    producerEpoch: 0,
    topicData: [
      {
        topic: 't',
        partitions: [{ partition: 0, firstSequence: 0, messages: [{ key: 'k', value: null, headers }] }],
      },
    ],
  });
  assert.ok((await produceRequest(args()).encode()).buffer.equals(originalProduceRequest(args(), dateNow)));
  headers.lineage = 'second';
  const second = (await produceRequest(args()).encode()).buffer;
  assert.ok(second.equals(originalProduceRequest(args(), dateNow)));
  assert.ok(second.includes(Buffer.from('second')));
});

interface PartsEncoder {
  buf: Buffer;
  parts: Buffer[] | null;
  readonly buffer: Buffer;
  size(): number;
  writeInt32(value: number): PartsEncoder;
  writeString(value: string): PartsEncoder;
  writeBuffer(value: Buffer): PartsEncoder;
  writeEncoder(value: PartsEncoder): PartsEncoder;
  writeArray(value: PartsEncoder[]): PartsEncoder;
  writeEncoderArray(value: PartsEncoder[]): PartsEncoder;
}
const PartsEncoderClass = requireFromKafkajs('kafkajs/src/protocol/encoder') as new () => PartsEncoder;
const int32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
};

test('the patched encoder writes nested encoders with the bytes of copying them, large ones by reference', () => {
  const random = generator(31);
  const sizes = [0, 1, 300, 4095, 4096, 4097, 20_000];
  const leafBytes = () =>
    Buffer.from(Array.from({ length: sizes[random(sizes.length)] ?? 0 }, () => random(256)));
  /** An encoder built at random, and its bytes built with Buffer alone. */
  const build = (depth: number): { encoder: PartsEncoder; bytes: Buffer } => {
    const encoder = new PartsEncoderClass();
    const pieces: Buffer[] = [];
    for (let step = 1 + random(5); step > 0; step--) {
      const kind = depth === 0 ? random(2) : random(5);
      if (kind === 0) {
        const n = random(1000);
        encoder.writeInt32(n);
        pieces.push(int32(n));
      } else if (kind === 1) {
        const leaf = leafBytes();
        encoder.writeBuffer(leaf);
        pieces.push(leaf);
      } else if (kind === 2) {
        const child = build(depth - 1);
        encoder.writeEncoder(child.encoder);
        pieces.push(child.bytes);
      } else {
        const children = Array.from({ length: random(4) }, () => build(depth - 1));
        if (kind === 3) encoder.writeArray(children.map((c) => c.encoder));
        else encoder.writeEncoderArray(children.map((c) => c.encoder));
        pieces.push(...(kind === 3 ? [int32(children.length)] : []), ...children.map((c) => c.bytes));
      }
    }
    return { encoder, bytes: Buffer.concat(pieces) };
  };
  for (let i = 0; i < 300; i++) {
    const { encoder, bytes } = build(3);
    assert.equal(encoder.size(), bytes.length, `size ${i}`);
    assert.ok(encoder.buffer.equals(bytes), `bytes ${i}`);
    assert.ok(encoder.buffer.equals(bytes), `bytes read again ${i}`);
    encoder.writeInt32(i);
    assert.ok(encoder.buffer.equals(Buffer.concat([bytes, int32(i)])), `written after a read ${i}`);
  }
  // By reference from 4096 bytes on, copied below: a change to the child after it was written shows, or not.
  for (const [size, byReference] of [
    [4095, false],
    [4096, true],
  ] as const) {
    const child = new PartsEncoderClass().writeBuffer(Buffer.alloc(size, 1));
    const parent = new PartsEncoderClass().writeInt32(7).writeEncoder(child);
    assert.equal(parent.parts !== null, byReference, `${size} bytes kept as a part`);
    child.buf[0] = 9;
    assert.equal(parent.buffer[4], byReference ? 9 : 1, `${size} bytes by reference`);
  }
});

interface CapturedRequest {
  request: { apiName: string; apiVersion: number; encode(): Promise<KafkajsEncoder> };
}
interface GroupBroker {
  lookupRequest: unknown;
  connectionPool: { send(request: CapturedRequest): Promise<unknown> };
  joinGroup(args: Record<string, unknown>): Promise<unknown>;
  syncGroup(args: Record<string, unknown>): Promise<unknown>;
  heartbeat(args: Record<string, unknown>): Promise<unknown>;
}
const Broker = requireFromKafkajs('kafkajs/src/broker') as { prototype: GroupBroker };
const { lookup } = requireFromKafkajs('kafkajs/src/protocol/requests') as {
  lookup: (versions: Record<number, { minVersion: number; maxVersion: number }>) => unknown;
};

/** A kafkajs Broker whose connection records the requests, as a Kafka 4.1 broker's ApiVersions would pick them. */
function recordingBroker(): { broker: GroupBroker; sent: CapturedRequest[] } {
  const sent: CapturedRequest[] = [];
  const broker = Object.create(Broker.prototype) as GroupBroker;
  // JoinGroup (11) 2–9, SyncGroup (14) 0–5, Heartbeat (12) 0–4: kafkajs's highest are 5, 3 and 3.
  broker.lookupRequest = lookup({
    11: { minVersion: 2, maxVersion: 9 },
    14: { minVersion: 0, maxVersion: 5 },
    12: { minVersion: 0, maxVersion: 4 },
  });
  broker.connectionPool = {
    send: (request) => {
      sent.push(request);
      return Promise.resolve({});
    },
  };
  return { broker, sent };
}

test('the patched broker sends group.instance.id in JoinGroup v5, SyncGroup v3 and Heartbeat v3', async () => {
  for (const groupInstanceId of ['pod-7', null]) {
    const { broker, sent } = recordingBroker();
    const group = { groupId: 'g', memberId: 'm', groupInstanceId };
    await broker.joinGroup({ ...group, sessionTimeout: 30000, rebalanceTimeout: 60000, groupProtocols: [] });
    await broker.syncGroup({ ...group, generationId: 1, groupAssignment: [] });
    await broker.heartbeat({ ...group, groupGenerationId: 1 });
    assert.deepEqual(
      sent.map((s) => `${s.request.apiName} v${s.request.apiVersion}`),
      ['JoinGroup v5', 'SyncGroup v3', 'Heartbeat v3'],
    );
    for (const { request } of sent) {
      const bytes = (await request.encode()).buffer;
      // A nullable string: its int16 length, then its bytes; null is length -1.
      const expected = Buffer.concat([Buffer.from([0, 5]), Buffer.from('pod-7')]);
      assert.equal(
        bytes.includes(expected),
        groupInstanceId !== null,
        `${request.apiName}, ${groupInstanceId}`,
      );
    }
  }
});

interface GroupCall {
  api: string;
  args: Record<string, unknown>;
}
type ConsumerGroupClass = new (options: Record<string, unknown>) => Record<symbol, () => Promise<void>> & {
  heartbeat(options: { interval: number }): Promise<void>;
  leave(): Promise<void>;
  memberId: string | null;
};
const ConsumerGroup = requireFromKafkajs('kafkajs/src/consumer/consumerGroup') as ConsumerGroupClass;

function privateMethod(name: string): symbol {
  const found = Object.getOwnPropertySymbols(ConsumerGroup.prototype).find((s) => s.description === name);
  assert.ok(found, `kafkajs's ConsumerGroup has ${name}`);
  return found;
}

/** A consumer group on a coordinator that records each call (SyncGroup fails once recorded: no assignment). */
function recordingGroup(groupInstanceId: string | undefined): {
  group: InstanceType<ConsumerGroupClass>;
  calls: GroupCall[];
} {
  const calls: GroupCall[] = [];
  const record = (api: string, result: unknown) => (args: Record<string, unknown>) => {
    calls.push({ api, args });
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  };
  const coordinator = {
    joinGroup: record('joinGroup', {
      generationId: 1,
      leaderId: 'other',
      memberId: 'm-1',
      members: [],
      groupProtocol: 'RoundRobinAssigner',
    }),
    syncGroup: record('syncGroup', new Error('recorded')),
    heartbeat: record('heartbeat', {}),
    leaveGroup: record('leaveGroup', {}),
  };
  const group = new ConsumerGroup({
    logger,
    cluster: {
      findGroupCoordinator: () => Promise.resolve(coordinator),
      findTopicPartitionMetadata: () => [],
    },
    groupId: 'g',
    topics: ['t'],
    topicConfigurations: {},
    instrumentationEmitter: { emit: silent },
    assigners: [{ name: 'RoundRobinAssigner', protocol: () => ({ name: 'RoundRobinAssigner' }) }],
    sessionTimeout: 30000,
    rebalanceTimeout: 60000,
    retry: {},
    groupInstanceId,
  });
  return { group, calls };
}

test('a static consumer group joins, syncs and heartbeats with its instance id, and stops without LeaveGroup', async () => {
  const { group, calls } = recordingGroup('pod-7');
  await group[privateMethod('private:ConsumerGroup:join')]!();
  await assert.rejects(group[privateMethod('private:ConsumerGroup:sync')]!(), /recorded/);
  await group.heartbeat({ interval: 0 });
  await group.leave();
  assert.deepEqual(
    calls.map((c) => [c.api, c.args.groupInstanceId]),
    [
      ['joinGroup', 'pod-7'],
      ['syncGroup', 'pod-7'],
      ['heartbeat', 'pod-7'],
    ],
  );
  assert.equal(group.memberId, null, 'a restarted consumer joins afresh');
});

test('a dynamic consumer group sends no instance id and leaves with LeaveGroup, as unpatched kafkajs does', async () => {
  const { group, calls } = recordingGroup(undefined);
  await group[privateMethod('private:ConsumerGroup:join')]!();
  await group.heartbeat({ interval: 0 });
  await group.leave();
  assert.deepEqual(
    calls.map((c) => [c.api, c.args.groupInstanceId ?? null]),
    [
      ['joinGroup', null],
      ['heartbeat', null],
      ['leaveGroup', null],
    ],
  );
});

type RunnerClass = new (options: Record<string, unknown>) => {
  running: boolean;
  fetchManager: { start(): Promise<void> };
  scheduleFetchManager(): void;
};
const Runner = requireFromKafkajs('kafkajs/src/consumer/runner') as RunnerClass;
const kafkajsErrors = requireFromKafkajs('kafkajs/src/errors') as {
  KafkaJSConnectionError: new (message: string, options: { broker: string; code: string }) => Error;
  KafkaJSConnectionClosedError: new (message: string, options: { host: string; port: number }) => Error;
  KafkaJSProtocolError: new (error: {
    message: string;
    type: string;
    code: number;
    retriable: boolean;
  }) => Error;
};

interface Node {
  name: string;
  heartbeat(): Promise<void>;
}

/**
 * A runner whose fetch loop heartbeats its group's coordinator, as kafkajs's does between batches. The group's
 * coordinator is `first`; the cluster, asked, names `second`. Resolves with the heartbeats and lookups once a
 * heartbeat succeeds.
 */
async function heartbeatAfterFailure(
  failure: Error,
): Promise<{ heartbeats: string[]; lookups: number; crashed: unknown }> {
  const heartbeats: string[] = [];
  let lookups = 0;
  let crashed: unknown;
  const node = (name: string, error?: Error): Node => ({
    name,
    heartbeat: () => {
      heartbeats.push(name);
      return error ? Promise.reject(error) : Promise.resolve();
    },
  });
  const second = node('second');
  const consumerGroup = {
    groupId: 'g',
    memberId: 'm',
    coordinator: node('first', failure),
    cluster: {
      findGroupCoordinator: ({ groupId }: { groupId: string }) => {
        assert.equal(groupId, 'g');
        lookups += 1;
        return Promise.resolve(second);
      },
    },
    getNodeIds: () => [],
  };
  const runner = new Runner({
    logger,
    consumerGroup,
    instrumentationEmitter: { emit: silent },
    concurrency: 1,
    retry: { retries: 2, initialRetryTime: 1, maxRetryTime: 1 },
    onCrash: (error: unknown) => {
      crashed = error;
      runner.running = false;
    },
  });
  const done = new Promise<void>((resolve) => {
    runner.fetchManager = {
      start: async () => {
        await consumerGroup.coordinator.heartbeat();
        runner.running = false;
        resolve();
      },
    };
    const onCrash = runner as unknown as { onCrash: (error: unknown) => void };
    const crash = onCrash.onCrash;
    onCrash.onCrash = (error) => {
      crash(error);
      resolve();
    };
  });
  runner.running = true;
  runner.scheduleFetchManager();
  await done;
  return { heartbeats, lookups, crashed };
}

test('a heartbeat that loses its coordinator (refused, closed, unavailable) looks the coordinator up again before the retry', async () => {
  const { KafkaJSConnectionError, KafkaJSConnectionClosedError, KafkaJSProtocolError } = kafkajsErrors;
  const lost = [
    new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'x:1',
      code: 'ECONNREFUSED',
    }),
    new KafkaJSConnectionClosedError('Closed connection', { host: 'x', port: 1 }),
    new KafkaJSProtocolError({
      message: 'gone',
      type: 'GROUP_COORDINATOR_NOT_AVAILABLE',
      code: 15,
      retriable: true,
    }),
  ];
  for (const failure of lost) {
    const seen = await heartbeatAfterFailure(failure);
    assert.deepEqual(seen, { heartbeats: ['first', 'second'], lookups: 1, crashed: undefined }, failure.name);
  }
});

test('negative control: other errors keep the coordinator; the retries reach the same node until they run out', async () => {
  const other = new kafkajsErrors.KafkaJSProtocolError({
    message: 'unknown',
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    code: 3,
    retriable: true,
  });
  const seen = await heartbeatAfterFailure(other);
  assert.deepEqual(seen.heartbeats, ['first', 'first', 'first']);
  assert.equal(seen.lookups, 0);
  assert.match(String(seen.crashed), /unknown/);
});

type EosManagerFactory = (options: Record<string, unknown>) => {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  sendOffsets(request: {
    consumerGroupId: string;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<void>;
};
const createEosManager = requireFromKafkajs('kafkajs/src/producer/eosManager') as EosManagerFactory;

/**
 * A transactional producer's TxnOffsetCommit in kafkajs's own eosManager: the group's coordinator is first `stale`,
 * whose TxnOffsetCommit fails with `failure`; asked again, the cluster names `fresh`. Resolves with the nodes that
 * received a TxnOffsetCommit and how the send ended.
 */
async function sendOffsetsAfterFailure(failure: Error): Promise<{ commits: string[]; failed: unknown }> {
  const commits: string[] = [];
  const groupLookups = ['stale', 'fresh'];
  const broker = (name: string) => ({
    isConnected: () => true,
    initProducerId: () => Promise.resolve({ producerId: 7, producerEpoch: 0 }),
    addOffsetsToTxn: () => Promise.resolve(),
    txnOffsetCommit: () => {
      commits.push(name);
      return name === 'stale' ? Promise.reject(failure) : Promise.resolve();
    },
  });
  const eos = createEosManager({
    logger,
    transactional: true,
    transactionalId: 't',
    cluster: {
      retry: { retries: 2, initialRetryTime: 1, maxRetryTime: 1 },
      refreshMetadataIfNecessary: () => Promise.resolve(),
      findGroupCoordinator: ({ coordinatorType }: { coordinatorType: number }) =>
        Promise.resolve(broker(coordinatorType === 1 ? 'transaction' : (groupLookups.shift() ?? 'fresh'))),
    },
  });
  await eos.initProducerId();
  eos.beginTransaction();
  let failed: unknown;
  try {
    await eos.sendOffsets({
      consumerGroupId: 'g',
      topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '10' }] }],
    });
  } catch (error) {
    failed = error;
  }
  return { commits, failed };
}

test("a TxnOffsetCommit whose group moved (not the coordinator, unavailable, refused, closed) is sent again to the group's new coordinator", async () => {
  const { KafkaJSConnectionError, KafkaJSConnectionClosedError, KafkaJSProtocolError } = kafkajsErrors;
  const moved = [
    new KafkaJSProtocolError({
      message: 'This is not the correct coordinator for this group',
      type: 'NOT_COORDINATOR_FOR_GROUP',
      code: 16,
      retriable: true,
    }),
    new KafkaJSProtocolError({
      message: 'The group coordinator is not available',
      type: 'GROUP_COORDINATOR_NOT_AVAILABLE',
      code: 15,
      retriable: true,
    }),
    new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'x:1',
      code: 'ECONNREFUSED',
    }),
    new KafkaJSConnectionClosedError('Closed connection', { host: 'x', port: 1 }),
  ];
  for (const failure of moved) {
    const seen = await sendOffsetsAfterFailure(failure);
    assert.deepEqual(seen, { commits: ['stale', 'fresh'], failed: undefined }, failure.message);
  }
});

test('negative control: a TxnOffsetCommit refused for another reason fails the send at once, with no second try', async () => {
  const fenced = new kafkajsErrors.KafkaJSProtocolError({
    message: 'Producer attempted an operation with an old epoch',
    type: 'INVALID_PRODUCER_EPOCH',
    code: 47,
    retriable: false,
  });
  const seen = await sendOffsetsAfterFailure(fenced);
  assert.deepEqual(seen.commits, ['stale']);
  assert.match(String(seen.failed), /old epoch/);
});

type ProducerFactory = (options: Record<string, unknown>) => { transaction(): Promise<unknown> };
const createProducer = requireFromKafkajs('kafkajs/src/producer') as ProducerFactory;

const concurrentTransactions = (): Error =>
  new kafkajsErrors.KafkaJSProtocolError({
    message: 'The producer attempted to update a transaction while another concurrent operation was ongoing',
    type: 'CONCURRENT_TRANSACTIONS',
    code: 51,
    retriable: true,
  });

/**
 * The first back-off (`retryTime`) kafkajs's transaction manager used for an InitProducerId answered
 * CONCURRENT_TRANSACTIONS once, as its debug log reports it: through kafkajs's own producer factory given `retry`
 * (`viaProducer`), or through a transaction manager made with no retry settings at all.
 */
async function firstInitProducerIdBackoff(
  retry: Record<string, number>,
  viaProducer: boolean,
): Promise<number> {
  const backoffs: number[] = [];
  const recording: SilentLogger = {
    ...logger,
    namespace: () => recording,
    debug: ((message: string, extra?: { retryTime?: number }) => {
      if (message.includes('ongoing transaction') && extra?.retryTime !== undefined)
        backoffs.push(extra.retryTime);
    }) as () => void,
  };
  let refusals = 1;
  const coordinator = {
    isConnected: () => true,
    initProducerId: () =>
      refusals-- > 0
        ? Promise.reject(concurrentTransactions())
        : Promise.resolve({ producerId: 7, producerEpoch: 0 }),
  };
  const cluster = {
    refreshMetadataIfNecessary: () => Promise.resolve(),
    findGroupCoordinator: () => Promise.resolve(coordinator),
  };
  if (viaProducer) {
    const producer = createProducer({
      logger: recording,
      cluster,
      retry,
      idempotent: true,
      transactionalId: 't',
      createPartitioner: () => () => 0,
    });
    await producer.transaction();
  } else {
    await createEosManager({
      logger: recording,
      cluster,
      transactional: true,
      transactionalId: 't',
    }).initProducerId();
  }
  assert.equal(backoffs.length, 1, 'one CONCURRENT_TRANSACTIONS, retried once');
  return backoffs[0] ?? -1;
}

test("a transactional producer's InitProducerId backs off by the producer's retry settings, not kafkajs's defaults", async () => {
  // factor 0: no jitter, so the first back-off is exactly the configured initial retry time.
  assert.equal(await firstInitProducerIdBackoff({ initialRetryTime: 7, factor: 0, retries: 3 }, true), 7);
});

test("negative control: a transaction manager given no retry settings backs off by kafkajs's default, 300 ms ± 20%", async () => {
  const backoff = await firstInitProducerIdBackoff({}, false);
  assert.ok(backoff >= 240 && backoff <= 360, `first back-off ${backoff} ms`);
});

/** How kafkajs's transaction manager's addPartitionsToTransaction ends when AddPartitionsToTxn is answered `answers` in turn, then accepted. */
async function addPartitionsAnswered(
  answers: (() => Error)[],
): Promise<{ requests: number; failed: unknown }> {
  let requests = 0;
  const coordinator = {
    isConnected: () => true,
    initProducerId: () => Promise.resolve({ producerId: 7, producerEpoch: 0 }),
    addPartitionsToTxn: () => {
      const answer = answers[requests++];
      return answer ? Promise.reject(answer()) : Promise.resolve();
    },
  };
  const eos = createEosManager({
    logger,
    transactional: true,
    transactionalId: 't',
    retry: { retries: 1, initialRetryTime: 1, maxRetryTime: 1 },
    cluster: {
      refreshMetadataIfNecessary: () => Promise.resolve(),
      findGroupCoordinator: () => Promise.resolve(coordinator),
    },
  }) as ReturnType<EosManagerFactory> & {
    addPartitionsToTransaction(
      topics: { topic: string; partitions: { partition: number }[] }[],
    ): Promise<void>;
  };
  await eos.initProducerId();
  eos.beginTransaction();
  let failed: unknown;
  try {
    await eos.addPartitionsToTransaction([{ topic: 'out', partitions: [{ partition: 0 }] }]);
  } catch (error) {
    failed = error;
  }
  return { requests, failed };
}

test('an AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS (the last commit still writing its markers) is retried in place', async () => {
  const seen = await addPartitionsAnswered([
    concurrentTransactions,
    concurrentTransactions,
    concurrentTransactions,
  ]);
  assert.deepEqual(seen, { requests: 4, failed: undefined });
});

test("negative control: CONCURRENT_TRANSACTIONS past the window, or another refusal at once, goes up to the send's retry", async () => {
  const endless = await addPartitionsAnswered(Array.from({ length: 1000 }, () => concurrentTransactions));
  assert.match(String(endless.failed), /concurrent operation/);
  assert.ok(endless.requests > 4 && endless.requests < 60, `${endless.requests} requests within the window`);
  const fenced = await addPartitionsAnswered([
    () =>
      new kafkajsErrors.KafkaJSProtocolError({
        message: 'Producer attempted an operation with an old epoch',
        type: 'INVALID_PRODUCER_EPOCH',
        code: 47,
        retriable: false,
      }),
  ]);
  assert.equal(fenced.requests, 1);
  assert.match(String(fenced.failed), /old epoch/);
});

type BrokerPoolClass = new (options: Record<string, unknown>) => {
  createBroker: (options: { connectionPool: { host: string } }) => unknown;
  connect(): Promise<void>;
};
const BrokerPool = requireFromKafkajs('kafkajs/src/cluster/brokerPool') as BrokerPoolClass;

/**
 * A broker pool bootstrapping from `seeds` ('down' refuses, anything else answers) through kafkajs's own
 * BrokerPool and a connection pool builder that hands the seeds out in turn from the first, as kafkajs's does.
 * Resolves with the seeds it tried, in order, and how the connect ended.
 */
async function connectThroughSeeds(
  seeds: string[],
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number },
): Promise<{ tried: string[]; failed: unknown }> {
  const tried: string[] = [];
  let next = 0;
  const pool = new BrokerPool({
    logger,
    retry,
    connectionPoolBuilder: {
      build: () => Promise.resolve({ host: seeds[next++ % seeds.length] ?? '' }),
      seedCount: () => seeds.length,
    },
  });
  pool.createBroker = ({ connectionPool }) => ({
    versions: {},
    isConnected: () => false,
    disconnect: () => Promise.resolve(),
    connect: () => {
      tried.push(connectionPool.host);
      return connectionPool.host === 'down'
        ? Promise.reject(
            new kafkajsErrors.KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
              broker: 'down:1',
              code: 'ECONNREFUSED',
            }),
          )
        : Promise.resolve();
    },
  });
  let failed: unknown;
  try {
    await pool.connect();
  } catch (error) {
    failed = error;
  }
  return { tried, failed };
}

test(
  'a refused seed broker is followed at once by the next seed, not by a retry back-off',
  { timeout: 20_000 },
  async () => {
    // A back-off would take 60 s and time the test out.
    const seen = await connectThroughSeeds(['down', 'up-2', 'up-3'], {
      retries: 3,
      initialRetryTime: 60_000,
      maxRetryTime: 60_000,
    });
    assert.deepEqual(seen, { tried: ['down', 'up-2'], failed: undefined });
  },
);

test('negative control: with every seed down, each round tries each seed once, then backs off, until the retries run out', async () => {
  const seen = await connectThroughSeeds(['down', 'down', 'down'], {
    retries: 2,
    initialRetryTime: 1,
    maxRetryTime: 1,
  });
  assert.equal(seen.tried.length, 9, 'three rounds of three seeds');
  assert.match(String(seen.failed), /ECONNREFUSED/);
});

/**
 * Three fake brokers, two partitions: broker 1 leads partition 0 and acknowledges it; broker 2 leads partition 1
 * and its first produce fails (a connection lost in a rolling restart), and meanwhile partition 0's leadership
 * moves to broker 3. Returns every append each broker made, with the sequence it was sent at.
 */
async function sendThroughARoll(
  send: (deps: Record<string, unknown>) => (args: Record<string, unknown>) => Promise<unknown[]>,
): Promise<{ appends: string[]; responses: unknown[] }> {
  const createRetry = requireFromKafkajs('kafkajs/src/retry') as (options: object) => unknown;
  const leaders = new Map([
    [0, 1],
    [1, 2],
  ]);
  const appends: string[] = [];
  let failuresLeft = 1;
  const broker = (nodeId: number) => ({
    nodeId,
    produce: ({
      topicData,
    }: {
      topicData: {
        topic: string;
        partitions: { partition: number; firstSequence: number; messages: unknown[] }[];
      }[];
    }) => {
      if (nodeId === 2 && failuresLeft > 0) {
        failuresLeft -= 1;
        leaders.set(0, 3);
        return Promise.reject(
          Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true }),
        );
      }
      const partitions = topicData.flatMap(({ topic, partitions }) =>
        partitions.map((p) => {
          appends.push(
            `node ${nodeId}: ${topic}-${p.partition} at sequence ${p.firstSequence}, ${p.messages.length} records`,
          );
          return { partition: p.partition, errorCode: 0, baseOffset: '0' };
        }),
      );
      return Promise.resolve({ topics: [{ topicName: 'changelog', partitions }] });
    },
  });
  const brokers = new Map([1, 2, 3].map((id) => [id, broker(id)]));
  const sequences = new Map<string, number>();
  const cluster = {
    targetTopics: new Set(['changelog']),
    refreshMetadataIfNecessary: () => Promise.resolve(),
    refreshMetadata: () => Promise.resolve(),
    addMultipleTargetTopics: () => Promise.resolve(),
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }],
    findLeaderForPartitions: (_topic: string, partitions: (string | number)[]) => {
      const byLeader: Record<string, number[]> = {};
      for (const partition of partitions.map(Number))
        (byLeader[String(leaders.get(partition))] ??= []).push(partition);
      return byLeader;
    },
    findBroker: ({ nodeId }: { nodeId: string }) => Promise.resolve(brokers.get(Number(nodeId))),
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: () => Promise.resolve(),
    releaseBrokerLock: () => Promise.resolve(),
    getProducerId: () => 7,
    getProducerEpoch: () => 0,
    getSequence: (topic: string, partition: number) => sequences.get(`${topic}-${partition}`) ?? 0,
    updateSequence: (topic: string, partition: number, increment: number) => {
      sequences.set(`${topic}-${partition}`, (sequences.get(`${topic}-${partition}`) ?? 0) + increment);
    },
  };
  const messages = [0, 0, 0, 1, 1].map((partition, i) => ({ key: `k${i}`, value: 'v', partition }));
  const responses = await send({
    logger,
    cluster,
    eosManager,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    retrier: createRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 1 }),
  })({ acks: -1, timeout: 1000, topicMessages: [{ topic: 'changelog', messages }] });
  return { appends: appends.sort(), responses };
}

test('a retry sends only the partitions no broker acknowledged, wherever their leaders moved (a roll never writes a batch twice)', async () => {
  const sendMessages = requireFromKafkajs('kafkajs/src/producer/sendMessages') as Parameters<
    typeof sendThroughARoll
  >[0];
  const { appends, responses } = await sendThroughARoll(sendMessages);
  assert.deepEqual(appends, [
    'node 1: changelog-0 at sequence 0, 3 records',
    'node 2: changelog-1 at sequence 0, 2 records',
  ]);
  assert.deepEqual(
    (responses as { partition: number }[]).map((r) => r.partition).sort(),
    [0, 1],
    "every partition's response, once",
  );
});

test("negative control: kafkajs 2.2.4's own retry writes the acknowledged partition again at its new leader, past its sequence", async () => {
  const { appends } = await sendThroughARoll(originalSendMessages as Parameters<typeof sendThroughARoll>[0]);
  assert.deepEqual(appends, [
    'node 1: changelog-0 at sequence 0, 3 records',
    'node 2: changelog-1 at sequence 0, 2 records',
    'node 3: changelog-0 at sequence 3, 3 records',
  ]);
});

test('records without headers share one frozen empty headers object; a write into it throws instead of reaching the others', () => {
  const headerless = (count: number) =>
    (
      decodeRecord(
        new KafkajsDecoder(
          Buffer.concat([
            Buffer.from([0]),
            varint(0),
            varint(0),
            varBytes(null),
            varBytes(null),
            varint(count),
          ]),
        ),
        { firstOffset: '0', firstTimestamp: '0', magicByte: 2 },
      ) as unknown as { headers: Record<string, unknown> }
    ).headers;
  // -1 is how an older producer may write "no headers": kafkajs read it as an empty list.
  const [first, second, nullList] = [headerless(0), headerless(0), headerless(-1)];
  assert.deepStrictEqual(first, {});
  assert.equal(first, second);
  assert.equal(first, nullList);
  assert.equal(Object.isFrozen(first), true);
  assert.throws(() => {
    first.added = 'x';
  }, TypeError);
  assert.deepStrictEqual(second, {});
});
