/**
 * Contract (docs/security.md): the stage authenticates with SASL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) and verifies
 * brokers over TLS against KAFKA_SSL_CA_FILE, with exactly-once intact; wrong credentials or an unverifiable
 * certificate end it within seconds, non-zero, with one line that says what failed where, never with a retry
 * storm; and no password ever appears in anything it writes.
 *
 * A broker of this file's own (usePrivateBroker) has, beside its PLAINTEXT listener, SASL_PLAINTEXT, SSL and
 * SASL_SSL listeners, one SASL account with SCRAM credentials written at format time, and a CA of its own. Test
 * set-up and verification use the PLAINTEXT listener; the stage is given only an authenticated one.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { ListenerName } from '../../scripts/stack/broker-security.js';
import { type PipelineNames, type StageProcess } from '../support/pipeline.js';
import { usePrivateBroker } from '../support/private-broker.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const USER = 'eos-rollup-stage';
const PASSWORD = `right-${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`;
/** The bound the issue sets for "fails fast": far below any retry schedule, far above a JVM-free client start. */
const FAIL_FAST_MS = 15_000;
/** One failed attempt per client the stage has started by then; a retry storm would be dozens. */
const MAX_FAILED_AUTHENTICATIONS = 3;

const suite = usePrivateBroker({ security: { saslUsers: { [USER]: PASSWORD }, tls: true } });

function listener(name: ListenerName): string {
  const address = suite.broker.listeners[name];
  if (address === undefined) throw new Error(`the private broker has no ${name} listener`);
  return address;
}

function saslEnv(mechanism: string, password = PASSWORD): Record<string, string> {
  return { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: password };
}

function tlsEnv(): Record<string, string> {
  const caFile = suite.broker.caFile;
  if (caFile === undefined) throw new Error('the private broker has no CA file');
  return { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile };
}

/** The broker's own record of rejected logins (Kafka's Selector logs each at INFO). */
function failedAuthentications(): number {
  return readFileSync(suite.broker.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('Failed authentication with')).length;
}

/** Runs the stage over `env` until the scenario's input is drained, then audits through the PLAINTEXT listener. */
async function rollUpOver(
  env: Record<string, string>,
): Promise<{ names: PipelineNames; stage: StageProcess }> {
  const { names } = await prepareScenario(suite, { hosts: 12, perHost: 40 });
  const { exit, stage } = await runOnce(suite, names, env);
  assert.deepEqual(
    exit,
    { code: 0, signal: null },
    `the stage drained and stopped:\n${stage.output().slice(-3000)}`,
  );
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome, stage.output().slice(-3000));
  assert.ok(outcome.report.counts.rollups > 0, 'the stage wrote rollups');
  assert.equal(outcome.report.counts.validRecords, 12 * 40 + 2, 'every record, flush records included');
  const started = /"msg":"starting eos-rollup"/.exec(stage.output());
  assert.ok(started, 'the stage logged its start');
  assert.match(stage.output(), /"brokers":\["127\.0\.0\.1:\d+"\]/);
  assert.ok(
    !stage.output().includes(`"${suite.broker.brokers}"`),
    'the stage never named the PLAINTEXT listener',
  );
  return { names, stage };
}

/** Starts a stage that is expected to give up, and returns how long it took and what it printed. */
async function failingRun(env: Record<string, string>): Promise<{
  exit: { code: number | null; signal: NodeJS.Signals | null };
  elapsedMs: number;
  stage: StageProcess;
}> {
  const { names } = await prepareScenario(suite, { hosts: 2, perHost: 2 });
  const startedAt = Date.now();
  const stage = suite.start(names, env);
  const exit = await Promise.race([stage.exited, sleep(FAIL_FAST_MS * 2).then(() => undefined)]);
  const elapsedMs = Date.now() - startedAt;
  assert.ok(exit, `the stage was still running after ${elapsedMs} ms:\n${stage.output().slice(-3000)}`);
  return { exit, elapsedMs, stage };
}

/** The one-line reason the CLI prints before exiting non-zero. */
function exitReason(stage: StageProcess): string {
  const reasons = stage
    .output()
    .split('\n')
    .filter((line) => line.startsWith('eos-rollup: '));
  assert.equal(reasons.length, 1, `one exit reason:\n${stage.output().slice(-3000)}`);
  return reasons[0]!;
}

test('over SCRAM-SHA-512 on a SASL_PLAINTEXT listener, every window is rolled up exactly once', async () => {
  const { stage } = await rollUpOver({
    KAFKA_BROKERS: listener('SASL_PLAINTEXT'),
    ...saslEnv('scram-sha-512'),
  });
  // The start-up line logs the config: the password field is there, and masked.
  assert.match(
    stage.output(),
    /"sasl":\{"mechanism":"scram-sha-512","username":"eos-rollup-stage","password":"\[redacted\]"\}/,
  );
});

test('over SCRAM-SHA-256 on a SASL_SSL listener, verified with KAFKA_SSL_CA_FILE, every window is rolled up exactly once', async () => {
  await rollUpOver({ KAFKA_BROKERS: listener('SASL_SSL'), ...tlsEnv(), ...saslEnv('scram-sha-256') });
});

test('over PLAIN on a SASL_SSL listener, every window is rolled up exactly once', async () => {
  await rollUpOver({ KAFKA_BROKERS: listener('SASL_SSL'), ...tlsEnv(), ...saslEnv('plain') });
});

test('the SASL listener refuses a client that does not authenticate', async () => {
  const admin = new Kafka({
    brokers: [listener('SASL_PLAINTEXT')],
    clientId: 'eos-rollup-test-unauthenticated',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 2000,
    requestTimeout: 3000,
  }).admin();
  try {
    // The broker closes a connection that sends anything but a SASL handshake first.
    await assert.rejects(
      async () => {
        await admin.connect();
        await admin.listTopics();
      },
      (error: unknown) => error instanceof Error && error.name.startsWith('KafkaJS'),
    );
  } finally {
    await admin.disconnect();
  }
});

test('a wrong SCRAM password ends the stage within 15 s with one line naming mechanism, user and broker, and no retry storm', async () => {
  const before = failedAuthentications();
  const broker = listener('SASL_PLAINTEXT');
  const { exit, elapsedMs, stage } = await failingRun({
    KAFKA_BROKERS: broker,
    ...saslEnv('scram-sha-512', WRONG_PASSWORD),
  });

  assert.ok(elapsedMs < FAIL_FAST_MS, `exited after ${elapsedMs} ms`);
  assert.equal(exit.signal, null);
  assert.ok(exit.code !== null && exit.code !== 0, `non-zero exit code, got ${String(exit.code)}`);
  const reason = exitReason(stage);
  assert.ok(
    reason.includes(`SASL SCRAM-SHA-512 authentication of user "${USER}" failed at broker ${broker}`),
    reason,
  );
  assert.match(reason, /KAFKA_SASL_PASSWORD/, 'the reason says which settings to check');

  // The broker really rejected the stage, and only a handful of times: the stage did not keep trying.
  let rejected = failedAuthentications() - before;
  for (let waited = 0; rejected === 0 && waited < 5000; waited += 100) {
    await sleep(100);
    rejected = failedAuthentications() - before;
  }
  const stageAttempts = stage
    .output()
    .split('\n')
    .filter((line) => line.includes('authentication of user')).length;
  console.log(
    `wrong password: exit ${exit.code} after ${elapsedMs} ms; broker rejected ${rejected} login(s); ` +
      `stage log lines about it ${stageAttempts}`,
  );
  assert.ok(rejected >= 1, 'the broker saw and rejected the login');
  assert.ok(rejected <= MAX_FAILED_AUTHENTICATIONS, `${rejected} rejected logins`);
});

test('a broker certificate no configured CA vouches for ends the stage within 15 s, naming TLS and KAFKA_SSL_CA_FILE', async () => {
  const { exit, elapsedMs, stage } = await failingRun({ KAFKA_BROKERS: listener('SSL'), KAFKA_SSL: 'true' });
  assert.ok(elapsedMs < FAIL_FAST_MS, `exited after ${elapsedMs} ms`);
  assert.ok(exit.code !== null && exit.code !== 0, `non-zero exit code, got ${String(exit.code)}`);
  const reason = exitReason(stage);
  assert.match(reason, /certificate/, reason);
  assert.match(reason, /KAFKA_SSL_CA_FILE/, reason);
});

test('no stage of this file ever wrote a password, right or wrong', () => {
  assert.ok(suite.stages.length >= 5, `${suite.stages.length} stages ran`);
  for (const stage of suite.stages) {
    const output = stage.output();
    assert.ok(output.length > 0, 'the stage wrote a log');
    assert.ok(!output.includes(PASSWORD), 'the right password is not in the log');
    assert.ok(!output.includes(WRONG_PASSWORD), 'the wrong password is not in the log');
  }
});
