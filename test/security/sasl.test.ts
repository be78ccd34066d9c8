/**
 * The SASL mechanism the stage gives kafkajs: kafkajs' own authenticators inside, failures rethrown naming the
 * mechanism, the user and the broker. Here the broker's side of the exchange is a function (the real exchange
 * runs in integration/security/scram.test.ts); what is checked is what reaches the wire and what an operator reads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthenticationProviderArgs, Logger } from 'kafkajs';

import type { SaslConfig } from '../../src/config/config.js';
import { classify } from '../../src/errors/classify.js';
import { saslMechanism } from '../../src/kafka/client/sasl.js';
import { translateKafkaError } from '../../src/kafka/client/translate-error.js';

const PASSWORD = 'pw-Zq81-never-shown';

const quietLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  namespace: () => quietLogger,
  setLogLevel: () => undefined,
};

type SaslAuthenticate = AuthenticationProviderArgs['saslAuthenticate'];

function args(saslAuthenticate: SaslAuthenticate): AuthenticationProviderArgs {
  return { host: 'kafka-3.example', port: 9096, logger: quietLogger, saslAuthenticate };
}

const rejectingBroker =
  (reason: string): SaslAuthenticate =>
  () =>
    Promise.reject(new Error(reason));

test('PLAIN sends the configured user and password to the broker', async () => {
  const sent: Buffer[] = [];
  const broker = (async ({ request }: { request: { encode: () => Promise<Buffer> | Buffer } }) => {
    sent.push(await request.encode());
  }) as unknown as SaslAuthenticate;
  const mechanism = saslMechanism({ mechanism: 'plain', username: 'stage', password: PASSWORD });
  assert.equal(mechanism.mechanism, 'plain');
  await mechanism.authenticationProvider(args(broker)).authenticate();
  assert.equal(sent.length, 1);
  assert.ok(sent[0]!.includes(Buffer.from(`\0stage\0${PASSWORD}`)), 'the PLAIN token carries both');
});

for (const sasl of [
  { mechanism: 'plain', username: 'stage', password: PASSWORD },
  { mechanism: 'scram-sha-256', username: 'stage', password: PASSWORD },
  { mechanism: 'scram-sha-512', username: 'stage', password: PASSWORD },
] satisfies SaslConfig[]) {
  test(`a rejected ${sasl.mechanism} login names mechanism, user and broker, not the password, and is fatal`, async () => {
    const reason = `Authentication failed during authentication due to invalid credentials with SASL mechanism ${sasl.mechanism.toUpperCase()}`;
    const authenticator = saslMechanism(sasl).authenticationProvider(args(rejectingBroker(reason)));
    const error = await authenticator.authenticate().then(
      () => assert.fail('expected a rejection'),
      (rejection: unknown) => rejection as Error & { retriable?: boolean },
    );
    assert.equal(error.name, 'KafkaJSSASLAuthenticationError');
    assert.equal(error.retriable, false, "kafkajs' retrier must give up at once");
    assert.equal(
      error.message,
      `SASL ${sasl.mechanism.toUpperCase()} authentication of user "stage" failed at broker kafka-3.example:9096: ${reason}`,
    );
    const translated = translateKafkaError(error, 'connecting');
    assert.equal(translated.code, 'AUTHENTICATION_FAILED');
    assert.equal(classify(translated), 'fatal');
    assert.match(
      translated.message,
      /check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
    for (const text of [error.message, error.stack ?? '', translated.message, JSON.stringify(error)]) {
      assert.ok(!text.includes(PASSWORD), text);
    }
  });
}
