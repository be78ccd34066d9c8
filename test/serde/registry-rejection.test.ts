/**
 * How registry failures are classified, against a real local HTTP server: an answer that says no is a fatal
 * rejection carrying the registry's message, and only a registry that could not answer is "unavailable".
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { FatalError, RegistryUnavailableError } from '../../src/errors/errors.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { schemaJson } from '../../src/serde/schema-files.js';

/** Requests seen per method and path, for the subjects that fail a request once. */
const writes = new Map<string, number>();

/** Answers by the subject in the path, so each test picks the registry's behaviour through the topic name. */
function handler(request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) {
  request.resume();
  const reply = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    response.end(JSON.stringify(body));
  };
  const url = request.url ?? '';
  // Apicurio closes about one connection in a thousand without answering: here every write's first try.
  if (url.includes('hangup-value') && request.method !== 'GET') {
    const key = `${request.method ?? ''} ${url}`;
    writes.set(key, (writes.get(key) ?? 0) + 1);
    if (writes.get(key) === 1) {
      request.socket.destroy();
      return;
    }
    if (request.method === 'POST') reply(200, { id: 7 });
    else reply(200, { compatibility: 'BACKWARD' });
    return;
  }
  // A registry, or an ingress in front of it, that accepts the request and never answers.
  if (url.includes('silent-value')) return;
  // A request that goes unanswered once (Apicurio under load does this): here every request's first try.
  if (url.includes('stalls-once-value')) {
    const key = `${request.method ?? ''} ${url}`;
    writes.set(key, (writes.get(key) ?? 0) + 1);
    if (writes.get(key) === 1) return;
    if (request.method === 'POST') reply(200, { id: 8 });
    else if (request.method === 'PUT') reply(200, { compatibility: 'BACKWARD' });
    else reply(404, { error_code: 40408 });
    return;
  }
  if (url.includes('none-value') && request.method === 'GET') {
    reply(200, { compatibilityLevel: 'NONE' });
    return;
  }
  if (url.includes('down-value')) {
    reply(503, { error_code: 50301, message: 'leader not known' });
    return;
  }
  if (request.method === 'GET' && url.startsWith('/config/')) {
    reply(404, { error_code: 40408 });
    return;
  }
  if (request.method === 'PUT' && url.startsWith('/config/')) {
    reply(200, { compatibility: 'BACKWARD' });
    return;
  }
  if (url.includes('incompatible-value')) {
    if (request.method === 'POST' && url.endsWith('/versions')) {
      reply(409, { error_code: 409, message: 'Schema being registered is incompatible' });
      return;
    }
    reply(404, { error_code: 40403, message: 'Schema not found' });
    return;
  }
  reply(404, { error_code: 40401, message: 'Subject not found' });
}

let server: Server;
let client: RegistryClient;
before(async () => {
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new RegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
after(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    }),
);

const rollup = schemaJson('metricRollup');

test('a subject whose compatibility is not BACKWARD is a fatal rejection, not an outage', async () => {
  const error = await client.register('none', rollup).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof FatalError, `got ${String(error)}`);
  assert.match(error.message, /none-value has compatibility NONE, the stage needs BACKWARD/);
});

test('an incompatible schema (409, not found on re-read) is a fatal rejection with the registry message', async () => {
  const error = await client.register('incompatible', rollup).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof FatalError, `got ${String(error)}`);
  assert.match(
    error.message,
    /rejected registering a schema under incompatible-value \(HTTP 409\).*incompatible/,
  );
});

test('a 5xx answer is RegistryUnavailableError', async () => {
  await assert.rejects(client.register('down', rollup), RegistryUnavailableError);
});

// Without a request timeout the lookup hangs and the runner's timeout fails the test.
test(
  'a registry that never answers is an outage after the request timeout, not a hang',
  { timeout: 30_000 },
  async () => {
    const impatient = new RegistryClient({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requestTimeoutMs: 200,
    });
    const error = await impatient.register('silent', rollup).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof RegistryUnavailableError, `got ${String(error)}`);
    assert.match(error.message, /timeout/i);
  },
);

test('a request that times out once is asked once more, like one whose connection was hung up on', async () => {
  const impatient = new RegistryClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requestTimeoutMs: 200,
  });
  assert.equal(await impatient.register('stalls-once', rollup), 8);
  assert.deepEqual([...writes].filter(([key]) => key.includes('stalls-once')).sort(), [
    ['GET /config/stalls-once-value', 2],
    ['POST /subjects/stalls-once-value/versions', 2],
    ['PUT /config/stalls-once-value', 2],
  ]);
});

test('a registry that hangs up on a write is asked once more: the compatibility rule and the schema are written, each on its second try', async () => {
  assert.equal(await client.register('hangup', rollup), 7);
  assert.deepEqual([...writes].filter(([key]) => key.includes('hangup')).sort(), [
    ['POST /subjects/hangup-value/versions', 2],
    ['PUT /config/hangup-value', 2],
  ]);
});
