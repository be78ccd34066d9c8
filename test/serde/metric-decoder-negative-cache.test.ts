/**
 * A registry 404 for a schema id is believed for a bounded time only: once it has passed, the id is asked again,
 * so a registry that answered 404 for a while (lagging replica, ingress) stops dead-lettering valid records.
 * Found writers stay cached: a registered id never changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Type } from 'avsc';
import { MetricDecoder, UNKNOWN_SCHEMA_ID_RECHECK_MS } from '../../src/serde/metric-decoder.js';
import type { WriterSchemaLookup } from '../../src/serde/registry-client.js';
import { avroType, READER_SCHEMA } from '../../src/serde/schema-files.js';
import { withWireHeader } from '../../src/serde/wire-format.js';
import { SAMPLE_METRIC as metric } from './sample-metric.js';

const SCHEMA_ID = 31;
const writer: Type = avroType(READER_SCHEMA);
const value = withWireHeader(SCHEMA_ID, writer.toBuffer(metric));

/** A registry that answers 404 until `knows` is set, counting lookups; a clock the test moves. */
function setup() {
  const registry = {
    knows: false,
    lookups: 0,
    writerSchema(schemaId: number): Promise<WriterSchemaLookup> {
      assert.equal(schemaId, SCHEMA_ID);
      registry.lookups += 1;
      return Promise.resolve(registry.knows ? { kind: 'found', type: writer } : { kind: 'not-found' });
    },
  };
  const clock = { ms: 1_000_000 };
  return { registry, clock, decoder: new MetricDecoder(registry, () => clock.ms) };
}

function kindOf(decoded: ReturnType<MetricDecoder['decode']>): string {
  return decoded.kind === 'poison' ? decoded.poison.reason : decoded.kind;
}

test('an unknown id is not asked again before the recheck time: records of it are dead-lettered meanwhile', async () => {
  const { registry, clock, decoder } = setup();
  await decoder.prepare([value]);
  assert.equal(kindOf(decoder.decode(value)), 'unknown-schema-id');
  registry.knows = true;
  clock.ms += UNKNOWN_SCHEMA_ID_RECHECK_MS - 1;
  await decoder.prepare([value]);
  assert.equal(registry.lookups, 1, 'the 404 is still believed');
  assert.equal(kindOf(decoder.decode(value)), 'unknown-schema-id');
});

test('after the recheck time the id is asked again, and a registry that now knows it makes the record valid', async () => {
  const { registry, clock, decoder } = setup();
  await decoder.prepare([value]);
  assert.equal(kindOf(decoder.decode(value)), 'unknown-schema-id');
  registry.knows = true;
  clock.ms += UNKNOWN_SCHEMA_ID_RECHECK_MS;
  await decoder.prepare([value]);
  assert.equal(registry.lookups, 2);
  assert.equal(kindOf(decoder.decode(value)), 'value');
});

test('an id that stays unknown is asked once per recheck period, not once per batch', async () => {
  const { registry, clock, decoder } = setup();
  for (let batch = 0; batch < 10; batch++) {
    await decoder.prepare([value, value]);
    clock.ms += UNKNOWN_SCHEMA_ID_RECHECK_MS / 4;
  }
  assert.equal(registry.lookups, 3, 'at 0, 1 and 2 recheck periods');
});

test('a found writer is never asked again', async () => {
  const { registry, clock, decoder } = setup();
  registry.knows = true;
  await decoder.prepare([value]);
  clock.ms += 100 * UNKNOWN_SCHEMA_ID_RECHECK_MS;
  await decoder.prepare([value]);
  assert.equal(registry.lookups, 1);
  assert.equal(kindOf(decoder.decode(value)), 'value');
});

test('isPrepared says whether prepare would look anything up: an id never asked, or a 404 past its recheck time, is not prepared', async () => {
  const { registry, clock, decoder } = setup();
  assert.equal(decoder.isPrepared([value]), false, 'never asked');
  assert.equal(decoder.isPrepared([null, Buffer.from('not avro')]), true, 'no schema id to look up');
  await decoder.prepare([value]);
  assert.equal(decoder.isPrepared([value]), true, 'the 404 is believed for now');
  clock.ms += UNKNOWN_SCHEMA_ID_RECHECK_MS;
  assert.equal(decoder.isPrepared([value]), false, 'the 404 is due for a recheck');
  registry.knows = true;
  await decoder.prepare([value]);
  assert.equal(decoder.isPrepared([value]), true);
  assert.equal(registry.lookups, 2);
});
