import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';

import { configSecrets, loadConfig, type Config } from '../../src/config/config.js';
import { REDACTED, createLogger, lineScrubber } from '../../src/observability/logger.js';

const KAFKA_SECRET = 'kafka-Pa55"word\\with-quote';
const REGISTRY_SECRET = 'registry-s3cret-value';

function secureConfig(): Config {
  return loadConfig({
    KAFKA_BROKERS: 'kafka-1:9093',
    SCHEMA_REGISTRY_URL: 'https://registry:8081',
    KAFKA_SSL: 'true',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'stage',
    KAFKA_SASL_PASSWORD: KAFKA_SECRET,
    SCHEMA_REGISTRY_USERNAME: 'registry-user',
    SCHEMA_REGISTRY_PASSWORD: REGISTRY_SECRET,
  });
}

/** A logger over an in-memory stream, as the stage builds it, and everything it wrote. */
function capture(config: Config): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: 'trace', secrets: configSecrets(config) }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== ''),
  };
}

function assertNoSecret(lines: string[]): void {
  const output = lines.join('\n');
  for (const secret of [KAFKA_SECRET, REGISTRY_SECRET, JSON.stringify(KAFKA_SECRET).slice(1, -1)]) {
    assert.ok(!output.includes(secret), `a secret was written:\n${output}`);
  }
}

test('the whole config object, logged as it is, shows neither password', () => {
  const config = secureConfig();
  const { logger, lines } = capture(config);
  logger.info({ config }, 'starting');
  assertNoSecret(lines());
  const logged = JSON.parse(lines()[0]!) as { config: Config };
  assert.equal(logged.config.kafka.sasl?.password, REDACTED);
  assert.equal(logged.config.registry.auth?.password, REDACTED);
  assert.equal(logged.config.kafka.sasl.username, 'stage', 'what is not secret stays readable');
});

test('a kafkajs-shaped SASL options object and an authorization header are redacted by path', () => {
  const config = secureConfig();
  const { logger, lines } = capture(config);
  logger.warn({
    kafkajs: { sasl: { mechanism: 'scram-sha-512', username: 'stage', password: KAFKA_SECRET } },
  });
  logger.warn({ request: { headers: { authorization: 'Basic cmVnaXN0cnktdXNlcjpyZWdpc3RyeQ==' } } }, 'call');
  logger.warn({ auth: { username: 'registry-user', password: REGISTRY_SECRET } }, 'auth');
  const [kafkajs, request, auth] = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(kafkajs?.kafkajs, { sasl: REDACTED });
  assert.deepEqual(request?.request, { headers: { authorization: REDACTED } });
  assert.deepEqual(auth?.auth, { username: 'registry-user', password: REDACTED });
  assertNoSecret(lines());
});

test('a secret in an error message, its stack and its cause is replaced wherever it appears', () => {
  const config = secureConfig();
  const { logger, lines } = capture(config);
  const cause = new Error(`registry said: bad credentials ${REGISTRY_SECRET}`);
  const error = new Error(`login failed for password ${KAFKA_SECRET}`, { cause });
  logger.error({ err: error }, `giving up: ${KAFKA_SECRET}`);
  assertNoSecret(lines());
  const line = lines()[0]!;
  const parsed = JSON.parse(line) as { msg: string; err: { message: string; stack: string } };
  assert.equal(parsed.msg, `giving up: ${REDACTED}`);
  // pino's err serializer appends the causes' messages.
  assert.equal(
    parsed.err.message,
    `login failed for password ${REDACTED}: registry said: bad credentials ${REDACTED}`,
  );
  assert.match(parsed.err.stack, /login failed for password \[redacted\]/);
});

test('credentials in a URL are stripped from every line, configured secret or not', () => {
  const { logger, lines } = capture(secureConfig());
  logger.warn(
    { url: 'https://someone:other-secret@registry.example:8081/apis/ccompat/v7' },
    'cannot reach http://token-only@registry:8081/subjects',
  );
  const output = lines()[0]!;
  assert.ok(!output.includes('other-secret') && !output.includes('token-only'), output);
  assert.match(output, /"url":"https:\/\/\[redacted\]@registry\.example:8081\/apis\/ccompat\/v7"/);
  assert.match(output, /cannot reach http:\/\/\[redacted\]@registry:8081\/subjects/);
});

test('every scrubbed line is still one valid JSON object', () => {
  const { logger, lines } = capture(secureConfig());
  logger.info({ note: `quote ${KAFKA_SECRET} and ${REGISTRY_SECRET}` }, KAFKA_SECRET);
  for (const line of lines()) assert.doesNotThrow(() => JSON.parse(line), line);
});

test('configSecrets lists exactly the passwords that are set', () => {
  assert.deepEqual(configSecrets(secureConfig()), [KAFKA_SECRET, REGISTRY_SECRET]);
  assert.deepEqual(
    configSecrets(loadConfig({ KAFKA_BROKERS: 'k:9092', SCHEMA_REGISTRY_URL: 'http://r:8081' })),
    [],
  );
});

test('secrets shorter than four characters are left to path redaction, not searched for in text', () => {
  const scrub = lineScrubber(['abc', 'long-enough']);
  assert.equal(scrub('{"msg":"abc long-enough"}'), '{"msg":"abc [redacted]"}');
});
