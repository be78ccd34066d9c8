/**
 * @kafkajs/confluent-schema-registry against the real registry (Apicurio's Confluent-compatible API here,
 * cp-schema-registry under testcontainers): register ServerMetric v1 and v2 under the topic name strategy,
 * encode with each, decode both with the v2 reader schema.
 */
import { strict as assert } from 'node:assert';
import { before, describe, test } from 'node:test';
import { RegistryUnavailableError } from '../../src/errors/errors.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { MetricDecoder } from '../../src/serde/metric-decoder.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { schemaJson } from '../../src/serde/schema-files.js';
import { freePort } from '../../scripts/stack/local-stack.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { uniqueName } from '../support/kafka.js';
import { registryFetch } from '../support/registry-fetch.js';
import { SAMPLE_METRIC } from '../../test/serde/sample-metric.js';

let env: TestEnvironment;
before(async () => {
  env = await testEnvironment();
});

/** The shared sample without the field v2 added: what a v1 writer has. */
const { load_avg_1m: _v2Only, ...sample } = SAMPLE_METRIC;

/** avsc decodes into instances of a generated record class; compare fields only. */
function plain(decoded: ReturnType<MetricDecoder['decode']>): Record<string, unknown> {
  if (decoded.kind !== 'value')
    throw new assert.AssertionError({ message: `expected a metric, got ${JSON.stringify(decoded)}` });
  return { ...decoded.value };
}

describe('schema registry compatibility', () => {
  test('v1 and v2 writers register under <topic>-value and both decode with the v2 reader schema', async () => {
    const registry = new RegistryClient({ url: env.registryUrl });
    const topic = uniqueName('compat-metrics');
    const v1 = await AvroEncoder.register<Omit<ServerMetric, 'load_avg_1m'>>(
      registry,
      topic,
      'serverMetricV1',
    );
    const v2 = await AvroEncoder.register<ServerMetric>(registry, topic, 'serverMetricV2');
    assert.notEqual(v1.schemaId, v2.schemaId, 'two versions, two ids');
    const again = await AvroEncoder.register<ServerMetric>(registry, topic, 'serverMetricV2');
    assert.equal(again.schemaId, v2.schemaId, 'registering the same schema again returns its id');

    const fromV1 = v1.encode(sample);
    const fromV2 = v2.encode({ ...sample, host: 'web-2', load_avg_1m: 0.75 });
    const decoder = new MetricDecoder(new RegistryClient({ url: env.registryUrl }));
    await decoder.prepare([fromV1, fromV2]);
    assert.deepEqual(plain(decoder.decode(fromV1)), { ...sample, load_avg_1m: null });
    assert.deepEqual(plain(decoder.decode(fromV2)), { ...sample, host: 'web-2', load_avg_1m: 0.75 });
  });

  test('ten clients registering the same schema under a fresh subject at once all get its id', async () => {
    const topic = uniqueName('compat-race');
    const ids = await Promise.all(
      Array.from({ length: 10 }, () =>
        new RegistryClient({ url: env.registryUrl }).register(topic, schemaJson('metricRollup')),
      ),
    );
    assert.equal(new Set(ids).size, 1, `one id for one schema, got ${ids.join(', ')}`);
    const config = await registryFetch(`${env.registryUrl}/config/${topic}-value`);
    assert.deepEqual(await config.json(), { compatibilityLevel: 'BACKWARD' });
  });

  test('an id the registry does not know is a poison pill, not an error', async () => {
    const decoder = new MetricDecoder(new RegistryClient({ url: env.registryUrl }));
    const unknownId = 2_000_000_000;
    const value = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), Buffer.from([1, 2, 3])]);
    value.writeInt32BE(unknownId, 1);
    await decoder.prepare([value]);
    const decoded = decoder.decode(value);
    assert.deepEqual(decoded.kind === 'poison' ? decoded.poison.reason : decoded.kind, 'unknown-schema-id');
  });

  test('an unreachable registry is a retriable RegistryUnavailableError, never a poison pill', async () => {
    const port = await freePort();
    const decoder = new MetricDecoder(new RegistryClient({ url: `http://127.0.0.1:${port}` }));
    const value = Buffer.from([0, 0, 0, 0, 42, 1]);
    await assert.rejects(decoder.prepare([value]), RegistryUnavailableError);
  });
});

test('SCHEMA_REGISTRY_AUTO_REGISTER=false: a missing output schema is named, a registered one is used as is', async () => {
  const registry = new RegistryClient({ url: env.registryUrl });
  const topic = uniqueName('lookup-only');
  await assert.rejects(
    AvroEncoder.register(registry, topic, 'metricRollup', false),
    new RegExp(`not registered under ${topic}-value.*SCHEMA_REGISTRY_AUTO_REGISTER=false`),
  );
  const subjectsAfter = await registryFetch(`${env.registryUrl}/subjects`).then(
    (r) => r.json() as Promise<string[]>,
  );
  assert.ok(!subjectsAfter.includes(`${topic}-value`), 'a lookup never registers');

  const id = await registry.register(topic, schemaJson('metricRollup'));
  const encoder = await AvroEncoder.register(registry, topic, 'metricRollup', false);
  assert.equal(encoder.schemaId, id);
});
