/**
 * TLS towards the brokers: the options the client factory hands kafkajs (checked by a real handshake with a local
 * TLS server holding the fixture certificate), and what a certificate that does not verify becomes.
 * The end-to-end run over a broker's SASL_SSL listener is in integration/security/scram.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, createServer, type ConnectionOptions, type Server } from 'node:tls';

import { repoRoot } from '../../scripts/stack/paths.js';
import { loadConfig } from '../../src/config/config.js';
import { classify } from '../../src/errors/classify.js';
import { ConfigError } from '../../src/errors/errors.js';
import { tlsOptions } from '../../src/kafka/client/client.js';
import { translateKafkaError } from '../../src/kafka/client/translate-error.js';

const fixtures = join(repoRoot(), 'test', 'security', 'fixtures');
const caFile = join(fixtures, 'ca.pem');

type ErrorClass = new (e: unknown, options?: Record<string, unknown>) => Error;
const kafkajsErrors = createRequire(__filename)('kafkajs/src/errors') as Record<
  'KafkaJSConnectionError' | 'KafkaJSNumberOfRetriesExceeded',
  ErrorClass
>;

let server: Server;
let port: number;

before(async () => {
  server = createServer(
    {
      key: readFileSync(join(fixtures, 'server-key.pem')),
      cert: readFileSync(join(fixtures, 'server.pem')),
    },
    (socket) => socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

function kafkaConfig(env: Record<string, string>) {
  return loadConfig({ KAFKA_BROKERS: '127.0.0.1:9093', SCHEMA_REGISTRY_URL: 'http://r:8081', ...env }).kafka;
}

/** A TLS handshake with the fixture server; resolves with Node's error code, or 'verified'. */
async function handshake(options: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => {
      socket.destroy();
      resolve('verified');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

function connectionError(message: string, code: string): Error {
  const error = new kafkajsErrors.KafkaJSConnectionError(message, { broker: '127.0.0.1:9093', code });
  // As it reaches the stage: kafkajs retried the connection, then gave up with the last error as the cause.
  return new kafkajsErrors.KafkaJSNumberOfRetriesExceeded(error, { retryCount: 5, retryTime: 3000 });
}

test('without KAFKA_SSL there are no TLS options', () => {
  assert.equal(tlsOptions(kafkaConfig({})), undefined);
});

test('KAFKA_SSL_CA_FILE is read into the options, and with it the broker certificate verifies', async () => {
  const options = tlsOptions(kafkaConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile }));
  assert.ok(options);
  assert.equal(options.rejectUnauthorized, true);
  assert.deepEqual(options.ca, [readFileSync(caFile, 'utf8')]);
  assert.equal(await handshake(options), 'verified');
});

test('without the CA the same certificate is refused, with a code the translation knows as fatal', async () => {
  const options = tlsOptions(kafkaConfig({ KAFKA_SSL: 'true' }));
  assert.ok(options);
  const code = await handshake(options);
  assert.notEqual(code, 'verified');
  const translated = translateKafkaError(connectionError(`Connection error: ${code}`, code), 'connecting');
  assert.equal(translated.code, 'TLS_CERTIFICATE_REJECTED', code);
});

test('a certificate that does not verify is fatal and names KAFKA_SSL_CA_FILE; a refused connection stays retriable', () => {
  for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
    const translated = translateKafkaError(
      connectionError('Connection error: bad certificate', code),
      'connecting',
    );
    assert.equal(translated.code, 'TLS_CERTIFICATE_REJECTED', code);
    assert.equal(classify(translated), 'fatal', code);
    assert.match(translated.message, /KAFKA_SSL_CA_FILE/);
  }
  const refused = translateKafkaError(
    connectionError('Connection error: connect ECONNREFUSED', 'ECONNREFUSED'),
    'x',
  );
  assert.equal(refused.code, 'CONNECTION_FAILED');
  assert.equal(classify(refused), 'retriable');
});

test('a TLS file that cannot be read is a ConfigError naming the variable and the path', () => {
  const missing = join(fixtures, 'missing-client.pem');
  assert.throws(
    () =>
      tlsOptions(
        kafkaConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: missing, KAFKA_SSL_KEY_FILE: caFile }),
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.startsWith(`KAFKA_SSL_CERT_FILE="${missing}" cannot be read (ENOENT)`),
  );
});
