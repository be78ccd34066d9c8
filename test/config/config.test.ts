import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  CONFIG_VARIABLES,
  loadConfig,
  redactConfig,
  type Config,
  type LoadOptions,
} from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';

type Env = Record<string, string | undefined>;

const REQUIRED: Env = { KAFKA_BROKERS: 'kafka-1:9092', SCHEMA_REGISTRY_URL: 'http://registry:8081' };

function load(extra: Env = {}): Config {
  return loadConfig({ ...REQUIRED, ...extra });
}

/** The problems loadConfig reports for this environment; fails the test if it accepts it. */
function problemsOf(env: Env, options: LoadOptions = {}): readonly string[] {
  try {
    loadConfig(env, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

function problemsWith(extra: Env): readonly string[] {
  return problemsOf({ ...REQUIRED, ...extra });
}

test('the two required variables alone yield the documented defaults', () => {
  const expected: Config = {
    appId: 'eos-rollup',
    instanceId: undefined,
    groupInstanceId: undefined,
    streamThreads: 1,
    kafka: {
      brokers: ['kafka-1:9092'],
      ssl: undefined,
      sasl: undefined,
      connectionTimeoutMs: 1000,
      requestTimeoutMs: 30_000,
    },
    registry: { url: 'http://registry:8081', auth: undefined, caFile: undefined, autoRegister: true },
    topics: {
      input: 'server-metrics',
      inventory: 'host-inventory',
      output: 'server-metrics-rollup-1m',
      dlq: 'server-metrics-dlq',
      changelog: 'eos-rollup-rollup-state-changelog',
    },
    windows: { sizeMs: 60_000, graceMs: 10_000 },
    processingGuarantee: 'exactly_once',
    onProcessCrash: 'quarantine',
    commit: { intervalMs: 100, maxRecords: 20000 },
    maxPartitionFetchBytes: 262_144,
    transactionTimeoutMs: 60_000,
    sessionTimeoutMs: 30_000,
    heartbeatIntervalMs: 3000,
    rebalanceTimeoutMs: 60_000,
    idleFlushMs: 0,
    restoreStableWaitMs: 60_000,
    stateDir: undefined,
    checkpointIntervalMs: 10_000,
    retry: { initialBackoffMs: 100, maxBackoffMs: 10_000 },
    circuitBreaker: { threshold: 5, probeIntervalMs: 1000 },
    shutdownTimeoutMs: 15_000,
    topicSettings: { replicationFactor: -1, dlqRetentionMs: 2_592_000_000, outputRetentionMs: 604_800_000 },
    metricsPort: 9464,
    logLevel: 'info',
    logFormat: 'auto',
    faultSpec: undefined,
    brokenVariant: undefined,
  };
  assert.deepEqual(load(), expected);
});

test('setting every variable to its documented default changes nothing', () => {
  const defaults = Object.fromEntries(
    CONFIG_VARIABLES.filter((v) => v.default !== undefined).map((v) => [v.name, v.default]),
  );
  assert.deepEqual(load(defaults), load());
});

test('loadConfig reads exactly the variables CONFIG_VARIABLES documents', () => {
  const read = new Set<string>();
  const env = new Proxy(
    { ...REQUIRED },
    {
      get(target: Env, name: string | symbol) {
        if (typeof name === 'string') read.add(name);
        return typeof name === 'string' ? target[name] : undefined;
      },
    },
  );
  loadConfig(env);
  assert.deepEqual([...read].sort(), CONFIG_VARIABLES.map((v) => v.name).sort());
});

test('every documented variable has a description that states what is allowed', () => {
  for (const variable of CONFIG_VARIABLES) {
    assert.match(variable.description, /\. Allowed: .+\.$/, variable.name);
  }
});

test('the config is deeply frozen', () => {
  const config = load({ KAFKA_SSL: 'true' });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.kafka));
  assert.ok(Object.isFrozen(config.kafka.brokers));
  assert.ok(Object.isFrozen(config.kafka.ssl));
  assert.ok(Object.isFrozen(config.topics));
});

test('missing required variables are each reported, naming the variable and what is allowed', () => {
  assert.deepEqual(problemsOf({}), [
    'KAFKA_BROKERS is required: expected a comma-separated list of host:port with port from 1 to 65535',
    'SCHEMA_REGISTRY_URL is required: expected an http:// or https:// URL, optionally with a path such as ' +
      '/apis/ccompat/v7, without credentials, query or fragment',
  ]);
});

test('a rejected value is reported with the variable, the value given and the allowed range', () => {
  assert.deepEqual(problemsWith({ COMMIT_INTERVAL_MS: 'abc' }), [
    'COMMIT_INTERVAL_MS="abc" is not allowed: expected an integer from 10 to 60000 (milliseconds)',
  ]);
});

test('all problems are reported together, and the message joins them with "; "', () => {
  try {
    loadConfig({ SCHEMA_REGISTRY_URL: 'ftp://x', WINDOW_MS: '5', LOG_LEVEL: 'loud' });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 4);
    assert.equal(error.message, error.problems.join('; '));
  }
});

test('integers are parsed strictly', () => {
  for (const value of ['10ms', '1e3', ' 5', '5 ', '0x10', '010', '+5', '5.0', '-0', '1_000']) {
    assert.equal(problemsWith({ COMMIT_INTERVAL_MS: value }).length, 1, JSON.stringify(value));
  }
});

test('the bounds of a range are accepted and the values just outside are not', () => {
  assert.equal(load({ COMMIT_INTERVAL_MS: '10' }).commit.intervalMs, 10);
  assert.equal(load({ COMMIT_INTERVAL_MS: '6000', TRANSACTION_TIMEOUT_MS: '60000' }).commit.intervalMs, 6000);
  assert.equal(problemsWith({ COMMIT_INTERVAL_MS: '9' }).length, 1);
  assert.equal(problemsWith({ COMMIT_MAX_RECORDS: '100001' }).length, 1);
  assert.equal(problemsWith({ COMMIT_MAX_RECORDS: '0' }).length, 1);
});

test('special values outside a range are accepted only where documented', () => {
  assert.equal(load({ IDLE_FLUSH_MS: '0' }).idleFlushMs, 0);
  assert.equal(load({ TOPIC_REPLICATION_FACTOR: '-1' }).topicSettings.replicationFactor, -1);
  assert.equal(load({ METRICS_PORT: '0' }).metricsPort, 0);
  assert.equal(load({ DLQ_RETENTION_MS: '-1' }).topicSettings.dlqRetentionMs, -1);
  assert.deepEqual(problemsWith({ IDLE_FLUSH_MS: '999' }), [
    'IDLE_FLUSH_MS="999" is not allowed: expected 0 (off) or an integer from 1000 to 86400000 (milliseconds)',
  ]);
  assert.equal(problemsWith({ TOPIC_REPLICATION_FACTOR: '0' }).length, 1);
  assert.equal(problemsWith({ WINDOW_MS: '0' }).length, 1);
});

test('an empty value counts as unset', () => {
  assert.deepEqual(load({ WINDOW_MS: '', APP_ID: '', INSTANCE_ID: '' }), load());
  assert.equal(
    problemsOf({ KAFKA_BROKERS: '', SCHEMA_REGISTRY_URL: REQUIRED.SCHEMA_REGISTRY_URL }).length,
    1,
  );
});

test('brokers are a comma-separated host:port list, spaces around commas ignored', () => {
  const config = load({ KAFKA_BROKERS: 'kafka-1:9092, kafka-2.example.com:19092 ,10.0.0.3:9093' });
  assert.deepEqual(config.kafka.brokers, ['kafka-1:9092', 'kafka-2.example.com:19092', '10.0.0.3:9093']);
});

test('a broker without a valid port, or an empty entry, is rejected', () => {
  for (const value of [
    'kafka-1',
    'kafka-1:0',
    'kafka-1:65536',
    'kafka-1:9092,',
    ':9092',
    'kafka 1:9092',
    '[::1]:9092',
  ]) {
    assert.match(problemsWith({ KAFKA_BROKERS: value }).join(), /^KAFKA_BROKERS=/, value);
  }
});

test('the registry URL keeps its path and loses a trailing slash', () => {
  const config = load({ SCHEMA_REGISTRY_URL: 'https://apicurio:8080/apis/ccompat/v7/' });
  assert.equal(config.registry.url, 'https://apicurio:8080/apis/ccompat/v7');
});

test('a registry URL that is not http(s), or has a query or fragment, is rejected', () => {
  for (const value of [
    'ftp://registry',
    'registry:8081',
    'http://registry:8081/?x=1',
    'http://registry#a',
    'http://',
  ]) {
    assert.equal(problemsWith({ SCHEMA_REGISTRY_URL: value }).length, 1, value);
  }
});

test('a registry URL with credentials is rejected without quoting it', () => {
  const problems = problemsWith({ SCHEMA_REGISTRY_URL: 'https://user:s3cret-pw@registry:8081' });
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /^SCHEMA_REGISTRY_URL contains credentials/);
  assert.doesNotMatch(problems.join(), /s3cret-pw/);
});

test('APP_ID names the changelog topic', () => {
  assert.equal(load({ APP_ID: 'rollup.prod_2' }).topics.changelog, 'rollup.prod_2-rollup-state-changelog');
});

test('an APP_ID outside [A-Za-z0-9._-] or longer than 200 characters is rejected', () => {
  for (const value of ['has space', 'slash/y', 'ümlaut', 'a'.repeat(201)]) {
    assert.match(problemsWith({ APP_ID: value }).join(), /^APP_ID=/, value);
  }
});

test('INSTANCE_ID is undefined when unset and recorded when set', () => {
  assert.equal(load().instanceId, undefined);
  assert.equal(load({ INSTANCE_ID: 'pod-7' }).instanceId, 'pod-7');
});

test('STATIC_MEMBERSHIP=true makes INSTANCE_ID the group instance id, and needs INSTANCE_ID', () => {
  assert.equal(load({ INSTANCE_ID: 'pod-7' }).groupInstanceId, undefined, 'off by default');
  assert.equal(load({ INSTANCE_ID: 'pod-7', STATIC_MEMBERSHIP: 'true' }).groupInstanceId, 'pod-7');
  assert.deepEqual(problemsWith({ STATIC_MEMBERSHIP: 'true' }), [
    'STATIC_MEMBERSHIP=true needs INSTANCE_ID, a name that stays the same across restarts',
  ]);
});

test('STREAM_THREADS is a count from 1 to 16', () => {
  assert.equal(load({ STREAM_THREADS: '2' }).streamThreads, 2);
  for (const value of ['0', '17', 'two', '1.5']) {
    assert.match(problemsWith({ STREAM_THREADS: value }).join(), /^STREAM_THREADS=/, value);
  }
});

test('topic names follow Kafka rules', () => {
  for (const value of ['.', '..', 'a'.repeat(250), 'with space', 'colon:topic']) {
    assert.match(problemsWith({ OUTPUT_TOPIC: value }).join(), /^OUTPUT_TOPIC=/, value);
  }
  assert.equal(load({ OUTPUT_TOPIC: 'a'.repeat(249) }).topics.output, 'a'.repeat(249));
});

test('two topics may not be the same; the later variable is blamed', () => {
  assert.deepEqual(problemsWith({ DLQ_TOPIC: 'server-metrics' }), [
    'DLQ_TOPIC="server-metrics" is not allowed: expected a topic different from INPUT_TOPIC',
  ]);
});

test('no topic may be the state changelog topic', () => {
  const problems = problemsWith({ OUTPUT_TOPIC: 'eos-rollup-rollup-state-changelog' });
  assert.deepEqual(problems, [
    'OUTPUT_TOPIC="eos-rollup-rollup-state-changelog" is not allowed: expected a topic different from ' +
      'the state changelog topic, which is derived from APP_ID',
  ]);
});

test('GRACE_MS may be at most 10 windows', () => {
  assert.equal(load({ WINDOW_MS: '1000', GRACE_MS: '10000' }).windows.graceMs, 10_000);
  assert.deepEqual(problemsWith({ WINDOW_MS: '1000', GRACE_MS: '10001' }), [
    'GRACE_MS="10001" is not allowed: expected at most 10 times WINDOW_MS (10000)',
  ]);
});

test('TRANSACTION_TIMEOUT_MS must outlast several commit intervals', () => {
  const problems = problemsWith({ COMMIT_INTERVAL_MS: '1000', TRANSACTION_TIMEOUT_MS: '5000' });
  assert.deepEqual(problems, [
    'TRANSACTION_TIMEOUT_MS="5000" is not allowed: expected at least 10 times COMMIT_INTERVAL_MS (10000), ' +
      'so a transaction outlasts several commit intervals',
  ]);
});

test('HEARTBEAT_INTERVAL_MS may be at most a third of SESSION_TIMEOUT_MS', () => {
  assert.equal(load({ SESSION_TIMEOUT_MS: '9000', HEARTBEAT_INTERVAL_MS: '3000' }).heartbeatIntervalMs, 3000);
  assert.deepEqual(problemsWith({ SESSION_TIMEOUT_MS: '9000', HEARTBEAT_INTERVAL_MS: '3001' }), [
    'HEARTBEAT_INTERVAL_MS="3001" is not allowed: expected at most a third of SESSION_TIMEOUT_MS (3000)',
  ]);
});

test('RETRY_BACKOFF_MAX_MS may not be below RETRY_BACKOFF_INITIAL_MS', () => {
  assert.deepEqual(problemsWith({ RETRY_BACKOFF_INITIAL_MS: '500', RETRY_BACKOFF_MAX_MS: '499' }), [
    'RETRY_BACKOFF_MAX_MS="499" is not allowed: expected at least RETRY_BACKOFF_INITIAL_MS (500)',
  ]);
});

test('a rejected value does not cause a second complaint about the variable it is compared with', () => {
  assert.deepEqual(problemsWith({ WINDOW_MS: 'abc', GRACE_MS: '700000' }), [
    'WINDOW_MS="abc" is not allowed: expected an integer from 1000 to 86400000 (milliseconds)',
  ]);
});

test('PROCESSING_GUARANTEE is exactly_once unless at_least_once is asked for; anything else is refused', () => {
  assert.equal(load({ PROCESSING_GUARANTEE: 'at_least_once' }).processingGuarantee, 'at_least_once');
  assert.deepEqual(problemsWith({ PROCESSING_GUARANTEE: 'exactly_twice' }), [
    'PROCESSING_GUARANTEE="exactly_twice" is not allowed: expected one of exactly_once, at_least_once, exactly_once_v2',
  ]);
});

test('LOG_LEVEL accepts the pino levels in any letter case', () => {
  assert.equal(load({ LOG_LEVEL: 'DEBUG' }).logLevel, 'debug');
  assert.deepEqual(problemsWith({ LOG_LEVEL: 'verbose' }), [
    'LOG_LEVEL="verbose" is not allowed: expected one of fatal, error, warn, info, debug, trace, silent',
  ]);
});

test('booleans are true or false and nothing else', () => {
  assert.notEqual(load({ KAFKA_SSL: 'TRUE' }).kafka.ssl, undefined);
  for (const value of ['yes', '1', 'on']) {
    assert.deepEqual(problemsWith({ KAFKA_SSL: value }), [
      `KAFKA_SSL="${value}" is not allowed: expected true or false`,
    ]);
  }
});

test('KAFKA_SSL=true yields TLS settings with certificates verified by default and the files recorded', () => {
  const config = load({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/etc/kafka/ca.pem' });
  assert.deepEqual(config.kafka.ssl, {
    rejectUnauthorized: true,
    caFile: '/etc/kafka/ca.pem',
    certFile: undefined,
    keyFile: undefined,
  });
  assert.equal(
    load({ KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }).kafka.ssl?.rejectUnauthorized,
    false,
  );
});

test('a TLS file given while KAFKA_SSL is off is a problem, not a silent plaintext connection', () => {
  assert.deepEqual(problemsWith({ KAFKA_SSL_CA_FILE: '/ca.pem' }), [
    'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: expected KAFKA_SSL=true, or KAFKA_SSL_CA_FILE unset',
  ]);
});

test('a client certificate needs its key and the key its certificate', () => {
  assert.deepEqual(problemsWith({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/c.pem' }), [
    'KAFKA_SSL_CERT_FILE is set but KAFKA_SSL_KEY_FILE is missing',
  ]);
  assert.deepEqual(problemsWith({ KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: '/k.pem' }), [
    'KAFKA_SSL_KEY_FILE is set but KAFKA_SSL_CERT_FILE is missing',
  ]);
});

test('a SASL mechanism with its user name and password yields SASL settings', () => {
  const config = load({
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
  });
  assert.deepEqual(config.kafka.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
});

test('a SASL mechanism without credentials names each missing variable', () => {
  assert.deepEqual(problemsWith({ KAFKA_SASL_MECHANISM: 'plain' }), [
    'KAFKA_SASL_MECHANISM is set but KAFKA_SASL_USERNAME is missing',
    'KAFKA_SASL_MECHANISM is set but KAFKA_SASL_PASSWORD is missing',
  ]);
});

test('a SASL password without a user name is reported without the password', () => {
  const problems = problemsWith({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
  assert.deepEqual(problems, ['KAFKA_SASL_MECHANISM is set but KAFKA_SASL_USERNAME is missing']);
  assert.deepEqual(problemsWith({ KAFKA_SASL_PASSWORD: 'hunter2-secret' }), [
    'KAFKA_SASL_PASSWORD is set but KAFKA_SASL_USERNAME is missing',
    'KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is missing',
  ]);
});

test('an unknown SASL mechanism is rejected without a second complaint about the credentials', () => {
  assert.deepEqual(
    problemsWith({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
    ['KAFKA_SASL_MECHANISM="gssapi" is not allowed: expected one of plain, scram-sha-256, scram-sha-512'],
  );
});

test('registry credentials come both or neither', () => {
  assert.deepEqual(load({ SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD: 'p' }).registry.auth, {
    username: 'u',
    password: 'p',
  });
  assert.deepEqual(problemsWith({ SCHEMA_REGISTRY_PASSWORD: 'hunter2-secret' }), [
    'SCHEMA_REGISTRY_PASSWORD is set but SCHEMA_REGISTRY_USERNAME is missing',
  ]);
  assert.deepEqual(problemsWith({ SCHEMA_REGISTRY_USERNAME: 'u' }), [
    'SCHEMA_REGISTRY_USERNAME is set but SCHEMA_REGISTRY_PASSWORD is missing',
  ]);
});

test('SCHEMA_REGISTRY_CA_FILE is recorded with an https registry', () => {
  const config = load({
    SCHEMA_REGISTRY_URL: 'https://registry:8443/apis/ccompat/v7',
    SCHEMA_REGISTRY_CA_FILE: '/etc/registry/ca.pem',
  });
  assert.equal(config.registry.caFile, '/etc/registry/ca.pem');
  assert.equal(load({ SCHEMA_REGISTRY_URL: 'HTTPS://registry:8443' }).registry.caFile, undefined);
  assert.equal(
    load({ SCHEMA_REGISTRY_URL: 'HTTPS://registry:8443', SCHEMA_REGISTRY_CA_FILE: '/ca.pem' }).registry
      .caFile,
    '/ca.pem',
  );
});

test('a registry CA file with a plain http registry is a problem, not a silently unverified connection', () => {
  assert.deepEqual(problemsWith({ SCHEMA_REGISTRY_CA_FILE: '/ca.pem' }), [
    'SCHEMA_REGISTRY_CA_FILE is set but SCHEMA_REGISTRY_URL is not https://: ' +
      'expected an https:// SCHEMA_REGISTRY_URL, or SCHEMA_REGISTRY_CA_FILE unset',
  ]);
});

test('a bad registry URL is not blamed a second time through SCHEMA_REGISTRY_CA_FILE', () => {
  assert.equal(
    problemsWith({ SCHEMA_REGISTRY_URL: 'ftp://r', SCHEMA_REGISTRY_CA_FILE: '/ca.pem' }).length,
    1,
  );
});

test('no problem message ever contains a password', () => {
  const secret = 'hunter2-secret';
  const envs: Env[] = [
    { KAFKA_SASL_PASSWORD: secret },
    { KAFKA_SASL_MECHANISM: 'nope', KAFKA_SASL_PASSWORD: secret },
    { SCHEMA_REGISTRY_PASSWORD: secret },
    { SCHEMA_REGISTRY_URL: `http://u:${secret}@registry` },
    { SCHEMA_REGISTRY_URL: `http://u:${secret}@[not-a-host` },
  ];
  for (const env of envs) {
    assert.doesNotMatch(problemsWith(env).join('; '), /hunter2/);
  }
});

test('a quoted value stays on one line and is cut when long', () => {
  const [problem] = problemsWith({ APP_ID: `bad\nline${'x'.repeat(300)}` });
  assert.ok(problem !== undefined && !problem.includes('\n'));
  assert.match(problem, /^APP_ID="bad\\nlinex{92}\.\.\." is not allowed/);
});

test('EOS_ROLLUP_FAULT is recorded raw', () => {
  assert.equal(load({ EOS_ROLLUP_FAULT: 'kill-before-commit:3' }).faultSpec, 'kill-before-commit:3');
});

test('redactConfig replaces every password and nothing else', () => {
  const config = load({
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'kafka-user',
    KAFKA_SASL_PASSWORD: 'kafka-secret',
    SCHEMA_REGISTRY_USERNAME: 'registry-user',
    SCHEMA_REGISTRY_PASSWORD: 'registry-secret',
  });
  const redacted = JSON.stringify(redactConfig(config));
  assert.doesNotMatch(redacted, /kafka-secret|registry-secret/);
  assert.equal(redacted.match(/"password":"\[redacted\]"/g)?.length, 2);
  assert.match(redacted, /"username":"kafka-user"/);
  assert.equal(config.kafka.sasl?.password, 'kafka-secret');
});

test('redactConfig leaves a config without passwords as it is', () => {
  const config = load();
  assert.deepEqual(redactConfig(config), config);
});

test('exactly_once_v2, the name Kafka Streams 4.x uses, means exactly_once', () => {
  assert.equal(load({ PROCESSING_GUARANTEE: 'exactly_once_v2' }).processingGuarantee, 'exactly_once');
  assert.equal(load({ PROCESSING_GUARANTEE: 'EXACTLY_ONCE_V2' }).processingGuarantee, 'exactly_once');
});

test('a misspelled variable is only a warning, unless CONFIG_STRICT makes it a failure', () => {
  assert.equal(load({ WINDOW_SIZE_MS: '30000' }).windows.sizeMs, 60_000);
  assert.deepEqual(problemsWith({ WINDOW_SIZE_MS: '30000', CONFIG_STRICT: 'true' }), [
    'WINDOW_SIZE_MS is not an eos-rollup setting and is ignored: did you mean WINDOW_MS?',
  ]);
});

test('APP_ID is required where the command acts for a group, and only a client-id prefix elsewhere', () => {
  assert.deepEqual(problemsOf({ ...REQUIRED }, { requireAppId: true }), [
    'APP_ID is required: it is the consumer group and the transactional-id prefix, and two deployments left on a default would share them; expected 1 to 200 characters from A-Z a-z 0-9 . _ -',
  ]);
  assert.equal(loadConfig({ ...REQUIRED, APP_ID: 'rollup-eu' }, { requireAppId: true }).appId, 'rollup-eu');
  assert.equal(load().appId, 'eos-rollup');
});

test('kafkajs connection and request timeouts are settings', () => {
  const config = load({ KAFKA_CONNECTION_TIMEOUT_MS: '10000', KAFKA_REQUEST_TIMEOUT_MS: '60000' });
  assert.equal(config.kafka.connectionTimeoutMs, 10_000);
  assert.equal(config.kafka.requestTimeoutMs, 60_000);
  assert.deepEqual(problemsWith({ KAFKA_REQUEST_TIMEOUT_MS: '10' }), [
    'KAFKA_REQUEST_TIMEOUT_MS="10" is not allowed: expected an integer from 1000 to 600000 (milliseconds)',
  ]);
});
