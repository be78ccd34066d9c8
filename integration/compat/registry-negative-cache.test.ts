/**
 * Contract, against the real registry: a 404 for a schema id is believed for a bounded time only. An HTTP front
 * in front of the registry answers 404 for id lookups while it "lags" (as a registry replica behind its leader,
 * or an ingress in a deploy, does); records of a really registered id are dead-lettered during that time, and
 * once the recheck time has passed (on the decoder's injected clock) the same records decode as metrics.
 */
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ServerMetric } from '../../src/domain/metric.js';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { MetricDecoder, UNKNOWN_SCHEMA_ID_RECHECK_MS } from '../../src/serde/metric-decoder.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { uniqueName } from '../support/kafka.js';
import { registryFetch } from '../support/registry-fetch.js';
import { SAMPLE_METRIC } from '../../test/serde/sample-metric.js';

let env: TestEnvironment;
before(async () => {
  env = await testEnvironment();
});

/** Forwards every request to the registry, except id lookups while `lagging`, which get the registry's 404. */
function laggingFront(target: string) {
  const front = { lagging: true, lookups: 0 };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '/';
    const isIdLookup = path.startsWith('/schemas/ids/');
    if (isIdLookup) front.lookups += 1;
    if (isIdLookup && front.lagging) {
      request.resume();
      response.writeHead(404, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      response.end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }));
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      registryFetch(`${target}${path}`, {
        method: request.method ?? 'GET',
        headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (answer) => {
          response.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          response.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch((error: unknown) => {
          response.writeHead(502);
          response.end(String(error));
        });
    });
  });
  return { front, server };
}

test('a registry that answered 404 for a registered id is asked again after the recheck time, and its records decode', async () => {
  const encoder = await AvroEncoder.register<ServerMetric>(
    new RegistryClient({ url: env.registryUrl }),
    uniqueName('negative-cache'),
    'serverMetricV2',
  );
  const value = encoder.encode(SAMPLE_METRIC);
  const { front, server } = laggingFront(env.registryUrl);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(
    () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  );
  const clock = { ms: 0 };
  const decoder = new MetricDecoder(
    new RegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    () => clock.ms,
  );
  const reason = () => {
    const decoded = decoder.decode(value);
    return decoded.kind === 'poison' ? decoded.poison.reason : decoded.kind;
  };

  await decoder.prepare([value]);
  assert.equal(reason(), 'unknown-schema-id', 'the front answered 404');
  front.lagging = false;
  clock.ms += UNKNOWN_SCHEMA_ID_RECHECK_MS - 1;
  await decoder.prepare([value]);
  assert.equal(reason(), 'unknown-schema-id', 'the 404 is believed until the recheck time');
  assert.equal(front.lookups, 1);

  clock.ms += 1;
  await decoder.prepare([value]);
  assert.equal(front.lookups, 2, 'asked again once the recheck time has passed');
  assert.equal(reason(), 'value');
});
