/**
 * The stage's Avro encoder and decoder read and write in place (a scratch buffer, a decode from the header's
 * end): each must give exactly what avsc's own `toBuffer` and `fromBuffer` give on a separate body, including
 * their refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { MetricDecoder } from '../../src/serde/metric-decoder.js';
import type { RegistryClient, WriterSchemaLookup } from '../../src/serde/registry-client.js';
import { avroType } from '../../src/serde/schema-files.js';
import { withWireHeader } from '../../src/serde/wire-format.js';
import { SAMPLE_METRIC as metric } from './sample-metric.js';

const V1 = avroType('serverMetricV1');
const V2 = avroType('serverMetricV2');
const ROLLUP = avroType('metricRollup');

function rollup(host: string) {
  const stats = { min: 1, max: 2, sum: 3, avg: 1.5 };
  return {
    host,
    region: 'eu-west',
    datacenter: 'dub-1',
    role: 'web',
    window_start: Date.UTC(2026, 0, 1),
    window_end: Date.UTC(2026, 0, 1, 0, 1),
    count: 2,
    cpu_percent: stats,
    mem_percent: stats,
    disk_read_bytes: 1,
    disk_write_bytes: 2,
    net_rx_bytes: 3,
    net_tx_bytes: 4,
    first_event_time: Date.UTC(2026, 0, 1, 0, 0, 1),
    last_event_time: Date.UTC(2026, 0, 1, 0, 0, 59),
  };
}

async function decoderKnowing(types: Record<number, typeof V2>): Promise<MetricDecoder> {
  const decoder = new MetricDecoder({
    writerSchema: (schemaId: number): Promise<WriterSchemaLookup> => {
      const type = types[schemaId];
      return Promise.resolve(type ? { kind: 'found', type } : { kind: 'not-found' });
    },
  });
  await decoder.prepare(Object.keys(types).map((id) => withWireHeader(Number(id), Buffer.alloc(0))));
  return decoder;
}

void test('each encoded record is the wire header and avsc toBuffer, for records smaller and larger than the scratch', async () => {
  const registry = { register: () => Promise.resolve(77) } as unknown as RegistryClient;
  const encoder = await AvroEncoder.register(registry, 'rollups', 'metricRollup');
  // 3,000 and then 20,000 characters outgrow the scratch twice; the short records after them must not carry
  // bytes of the long ones.
  const hosts = ['web-1', 'x'.repeat(3_000), '', 'y'.repeat(20_000), 'db-2', 'é中😀'];
  const encoded = hosts.map((host) => encoder.encode(rollup(host)));
  hosts.forEach((host, i) => {
    assert.deepEqual(encoded[i], withWireHeader(77, ROLLUP.toBuffer(rollup(host))), `host of ${host.length}`);
  });
});

void test('a metric decodes in place as avsc fromBuffer decodes its body, for the reader schema and through a resolver', async () => {
  const decoder = await decoderKnowing({ 1: V1, 2: V2 });
  const v1Fields = { ...metric } as Record<string, unknown>;
  delete v1Fields.load_avg_1m;
  const v1Body = V1.toBuffer(v1Fields);
  const v2Body = V2.toBuffer(metric);
  // Fields compared, not classes: each avsc type has its own record class.
  const fields = (decoded: ReturnType<MetricDecoder['decode']>) =>
    decoded.kind === 'value' ? { ...decoded.value } : decoded;
  const v2Metric: object = V2.fromBuffer(v2Body) as object;
  const v1Metric: object = V2.fromBuffer(v1Body, V2.createResolver(V1)) as object;
  assert.deepEqual(fields(decoder.decode(withWireHeader(2, v2Body))), { ...v2Metric });
  assert.deepEqual(fields(decoder.decode(withWireHeader(1, v1Body))), { ...v1Metric });
  assert.equal((v1Metric as { load_avg_1m: unknown }).load_avg_1m, null);
});

void test('a body cut short, or with bytes after the record, is an avro-decode poison with avsc own message', async () => {
  const decoder = await decoderKnowing({ 2: V2 });
  const body = V2.toBuffer(metric);
  const reasons = (value: Buffer) => {
    const decoded = decoder.decode(value);
    return decoded.kind === 'poison' ? `${decoded.poison.reason}: ${decoded.poison.message}` : decoded.kind;
  };
  const refusal = (bytes: Buffer): string => {
    try {
      V2.fromBuffer(bytes);
    } catch (error) {
      return `avro-decode: schema id 2: ${(error as Error).message}`;
    }
    return 'value';
  };
  const short = body.subarray(0, body.length - 3);
  const long = Buffer.concat([body, Buffer.from([0])]);
  assert.equal(refusal(short), 'avro-decode: schema id 2: truncated buffer');
  assert.equal(refusal(long), 'avro-decode: schema id 2: trailing data');
  assert.equal(reasons(withWireHeader(2, short)), refusal(short));
  assert.equal(reasons(withWireHeader(2, long)), refusal(long));
  assert.equal(reasons(withWireHeader(2, Buffer.alloc(0))), refusal(Buffer.alloc(0)));
});

void test('a value too short for the header, or with another magic byte, is a bad-magic-byte poison saying which', async () => {
  const decoder = await decoderKnowing({ 2: V2 });
  const reasons = (value: Buffer) => {
    const decoded = decoder.decode(value);
    return decoded.kind === 'poison' ? `${decoded.poison.reason}: ${decoded.poison.message}` : decoded.kind;
  };
  assert.equal(
    reasons(Buffer.from([0, 0, 0])),
    'bad-magic-byte: value of 3 bytes is shorter than the 5-byte header',
  );
  assert.equal(
    reasons(Buffer.from([1, 0, 0, 0, 2, ...V2.toBuffer(metric)])),
    'bad-magic-byte: magic byte 1, expected 0',
  );
  assert.equal(decoder.isPrepared([Buffer.from([1, 0, 0, 0, 9]), Buffer.from([0])]), true);
});
