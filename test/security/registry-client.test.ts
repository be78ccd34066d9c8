/**
 * The registry client against a real local HTTP(S) server that speaks the two calls the stage makes (register a
 * schema, look one up by id) and, like a registry behind basic auth, answers 401 without the right credentials.
 * The HTTPS variant serves a certificate signed by the fixture CA (fixtures/make-certs.sh).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { repoRoot } from '../../scripts/stack/paths.js';
import { classify } from '../../src/errors/classify.js';
import { ConfigError, StageError } from '../../src/errors/errors.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { schemaJson } from '../../src/serde/schema-files.js';

const USER = 'registry-user';
const PASSWORD = 'registry-pw-7Hq2';
const SCHEMA_ID = 42;

interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A registry that knows one schema id and accepts every registration, behind basic auth. */
function registryHandler(seen: SeenRequest[]) {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  return (request: IncomingMessage, response: ServerResponse) => {
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers.authorization,
    });
    request.resume();
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== expected) {
      reply(401, { error_code: 40101, message: 'Unauthorized' });
    } else if (request.method === 'GET' && request.url?.startsWith('/config/')) {
      reply(200, { compatibilityLevel: 'BACKWARD' });
    } else if (request.method === 'GET' && request.url === `/schemas/ids/${SCHEMA_ID}`) {
      reply(200, { schema: JSON.stringify(schemaJson('metricRollup')) });
    } else if (request.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(request.url ?? '')) {
      reply(200, { id: SCHEMA_ID });
    } else {
      reply(404, { error_code: 40403, message: 'Schema not found' });
    }
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

const seen: SeenRequest[] = [];
let http: Server;
let httpUrl: string;
let https: Server;
let httpsUrl: string;
let dir: string;
const fixtures = join(repoRoot(), 'test', 'security', 'fixtures');
const caFile = join(fixtures, 'ca.pem');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eos-rollup-registry-tls-'));
  http = createHttpServer(registryHandler(seen));
  httpUrl = `http://127.0.0.1:${await listen(http)}`;
  https = createHttpsServer(
    {
      key: readFileSync(join(fixtures, 'server-key.pem')),
      cert: readFileSync(join(fixtures, 'server.pem')),
    },
    registryHandler(seen),
  );
  httpsUrl = `https://127.0.0.1:${await listen(https)}`;
});

after(async () => {
  await Promise.all([close(http), close(https)]);
  rmSync(dir, { recursive: true, force: true });
});

/** What a FatalError would show in a log or on stderr: message, cause chain and every own property. */
function everythingAbout(error: unknown): string {
  const parts: string[] = [];
  for (let link: unknown = error; link instanceof Error; link = link.cause) {
    parts.push(link.message, link.stack ?? '', JSON.stringify(link));
  }
  return parts.join('\n');
}

test('with credentials, the client sends them as basic auth on every call', async () => {
  const client = new RegistryClient({ url: httpUrl, auth: { username: USER, password: PASSWORD } });
  seen.length = 0;
  // Lookup first: the library caches the id a registration returns and would not ask for it again.
  assert.equal((await client.writerSchema(SCHEMA_ID)).kind, 'found');
  assert.equal(await client.register('orders', schemaJson('metricRollup')), SCHEMA_ID);
  assert.deepEqual(
    seen.map((request) => `${request.method} ${request.url}`),
    [`GET /schemas/ids/${SCHEMA_ID}`, 'GET /config/orders-value', 'POST /subjects/orders-value/versions'],
  );
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  assert.ok(
    seen.every((request) => request.authorization === basic),
    JSON.stringify(seen),
  );
});

test('a wrong password is a fatal authentication error that names the variables, not the password', async () => {
  const wrong = 'not-the-registry-pw';
  const client = new RegistryClient({ url: httpUrl, auth: { username: USER, password: wrong } });
  const error = await client.writerSchema(SCHEMA_ID).then(
    () => assert.fail('expected a rejection'),
    (rejection: unknown) => rejection,
  );
  assert.ok(error instanceof StageError);
  assert.equal(error.code, 'AUTHENTICATION_FAILED');
  assert.equal(classify(error), 'fatal', 'a 401 is never retried');
  assert.match(error.message, /HTTP 401/);
  assert.match(error.message, /SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/);
  const shown = everythingAbout(error);
  assert.ok(!shown.includes(wrong), shown);
  assert.ok(!shown.includes(Buffer.from(`${USER}:${wrong}`).toString('base64')), shown);
});

test('without credentials, a registry behind basic auth is the same fatal error', async () => {
  const client = new RegistryClient({ url: httpUrl });
  await assert.rejects(client.register('orders', schemaJson('metricRollup')), {
    code: 'AUTHENTICATION_FAILED',
  });
});

test('an https registry signed by SCHEMA_REGISTRY_CA_FILE is verified and used', async () => {
  const client = new RegistryClient({
    url: httpsUrl,
    auth: { username: USER, password: PASSWORD },
    caFile,
  });
  assert.equal(await client.register('orders', schemaJson('metricRollup')), SCHEMA_ID);
});

test('an https registry whose CA is not given is refused as a fatal TLS error, never retried', async () => {
  const client = new RegistryClient({ url: httpsUrl, auth: { username: USER, password: PASSWORD } });
  const error = await client.register('orders', schemaJson('metricRollup')).then(
    () => assert.fail('expected a rejection'),
    (rejection: unknown) => rejection,
  );
  assert.ok(error instanceof StageError, String(error));
  assert.equal(error.code, 'TLS_CERTIFICATE_REJECTED');
  assert.equal(classify(error), 'fatal');
  assert.match(error.message, /SCHEMA_REGISTRY_CA_FILE/);
});

test('a CA file that is missing or not PEM is a ConfigError naming the variable and the path', () => {
  const missing = join(dir, 'nowhere.pem');
  assert.throws(
    () => new RegistryClient({ url: httpsUrl, caFile: missing }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        `SCHEMA_REGISTRY_CA_FILE="${missing}" cannot be read (ENOENT): expected a readable PEM file (-----BEGIN …-----)`,
  );
  const der = join(dir, 'ca.der');
  writeFileSync(der, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
  assert.throws(
    () => new RegistryClient({ url: httpsUrl, caFile: der }),
    /SCHEMA_REGISTRY_CA_FILE=".*ca\.der" is not a PEM file/,
  );
});
