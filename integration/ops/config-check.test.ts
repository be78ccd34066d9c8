/**
 * Contract: `eos-rollup config check` passes against a working stack and, when something the stage needs is
 * wrong, exits non-zero with one line naming the variable concerned, without creating or changing anything.
 * Each failure is real: a topic that does not exist, a registry path that answers 404, a port nothing listens
 * on, a registry behind a proxy that hangs up (once: the check asks again; always: a problem), a changelog
 * with the wrong partition count, and a broker whose transaction.max.timeout.ms is below TRANSACTION_TIMEOUT_MS
 * (a private broker configured so; 120 s, since the harness warms a broker up with kafkajs' default 60 s
 * transactions).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { processingAttemptsTopic } from '../../src/kafka/stage/attempt-journal.js';
import { repoRoot } from '../../scripts/stack/paths.js';
import { createTopics } from '../support/kafka.js';
import { createPipeline, loadInventory, type PipelineNames } from '../support/pipeline.js';
import { usePrivateBroker } from '../support/private-broker.js';
import { useStageSuite, type StageSuite } from '../support/stage-suite.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeRun, pipelineEnv, runCli, type CliResult } from './cli.js';

async function topicNames(kafka: Kafka): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
}

function problems(result: CliResult): string[] {
  return result.stdout.split('\n').filter((line) => line.startsWith('PROBLEM'));
}

async function pipeline(suite: StageSuite): Promise<{ names: PipelineNames; env: Record<string, string> }> {
  const names = await createPipeline(suite.kafka, 2);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  return { names, env: pipelineEnv(suite.env, names) };
}

describe('against the shared stack', () => {
  const suite = useStageSuite();

  test('config check passes: every check ok, exit 0, and nothing created', async () => {
    const { names, env } = await pipeline(suite);
    const result = await runCli(['config', 'check'], env);
    assert.equal(result.code, 0, describeRun(result));
    for (const check of ['settings', 'broker', 'registry', 'topics', 'acls', 'transaction timeout'])
      assert.match(result.stdout, new RegExp(`^ok +${check}: `, 'm'), describeRun(result));
    assert.deepEqual(problems(result), []);
    const topics = await topicNames(suite.kafka);
    for (const topic of [names.output, names.dlq, names.changelog, processingAttemptsTopic(names.appId)])
      assert.ok(!topics.has(topic), `config check created ${topic}`);

    // The ACL probe really sent InitProducerId for its own transactional id: Kafka's kafka-transactions knows it.
    const transactionalId = `${names.appId}-config-check`;
    const { stdout } = await promisify(execFile)(
      'bash',
      [
        join(repoRoot(), 'scripts', 'kafka-tool'),
        'kafka-transactions',
        'describe',
        '--transactional-id',
        transactionalId,
      ],
      { env: { ...process.env, KAFKA_BROKERS: suite.env.brokers }, timeout: 120_000 },
    );
    assert.match(stdout, new RegExp(`\\b${transactionalId}\\b.*\\bEmpty\\b`), stdout);
  });

  test('a missing input topic fails the topics check with a line naming INPUT_TOPIC', async () => {
    const { env } = await pipeline(suite);
    const missing = `${env.APP_ID ?? ''}-no-such-input`;
    const result = await runCli(['config', 'check'], { ...env, INPUT_TOPIC: missing });
    assert.equal(result.code, 1, describeRun(result));
    assert.deepEqual(problems(result), [
      `PROBLEM topics: input topic ${missing} does not exist (INPUT_TOPIC); create it first`,
    ]);
    assert.ok(!(await topicNames(suite.kafka)).has(missing), 'the missing input was not created');
  });

  test('a wrong registry URL fails the registry check with a line naming SCHEMA_REGISTRY_URL', async () => {
    const { env } = await pipeline(suite);
    const wrongPath = await runCli(['config', 'check'], {
      ...env,
      SCHEMA_REGISTRY_URL: `${suite.env.registryUrl}/not-the-api`,
    });
    assert.equal(wrongPath.code, 1, describeRun(wrongPath));
    assert.deepEqual(
      problems(wrongPath).map((line) => line.replace(/HTTP \d+/, 'HTTP n')),
      [
        `PROBLEM registry: registry ${suite.env.registryUrl}/not-the-api answered GET /subjects with HTTP n: is SCHEMA_REGISTRY_URL the registry's API root?`,
      ],
    );
    const closed = await runCli(['config', 'check'], { ...env, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' });
    assert.equal(closed.code, 1, describeRun(closed));
    assert.match(
      problems(closed).join('\n'),
      /^PROBLEM registry: .*\(SCHEMA_REGISTRY_URL\) cannot be reached: .*ECONNREFUSED/,
    );
  });

  test('a registry that hangs up once is asked again; one that always hangs up is a problem naming SCHEMA_REGISTRY_URL', async () => {
    const { env } = await pipeline(suite);
    const registry = new URL(suite.env.registryUrl);
    const proxy = await TcpProxy.start(registry.hostname, Number(registry.port));
    try {
      const viaProxy = `${registry.protocol}//127.0.0.1:${proxy.port}${registry.pathname}`;
      proxy.hangUpOn(1);
      const once = await runCli(['config', 'check'], { ...env, SCHEMA_REGISTRY_URL: viaProxy });
      assert.equal(once.code, 0, describeRun(once));
      assert.match(once.stdout, /^ok +registry: /m, describeRun(once));
      assert.equal(proxy.accepted, 2, 'the check connected twice: the hang-up, then the answer');

      proxy.cut();
      const always = await runCli(['config', 'check'], { ...env, SCHEMA_REGISTRY_URL: viaProxy });
      assert.equal(always.code, 1, describeRun(always));
      // A close and a reset both reach Node as ECONNRESET: "socket hang up" or "read ECONNRESET".
      const lines = problems(always);
      assert.equal(lines.length, 1, describeRun(always));
      assert.ok(
        lines[0]?.startsWith(
          `PROBLEM registry: registry ${viaProxy} (SCHEMA_REGISTRY_URL) cannot be reached: `,
        ),
        describeRun(always),
      );
      assert.match(lines[0] ?? '', /(socket hang up|read ECONNRESET)$/);
      assert.equal(proxy.accepted, 4, 'the second check also asked twice before it gave up');
    } finally {
      await proxy.close();
    }
  });

  test('an unreachable broker fails with a line naming KAFKA_BROKERS and skips the Kafka checks', async () => {
    const { env } = await pipeline(suite);
    const result = await runCli(['config', 'check'], { ...env, KAFKA_BROKERS: '127.0.0.1:1' });
    assert.equal(result.code, 1, describeRun(result));
    const lines = problems(result);
    assert.match(lines[0] ?? '', /^PROBLEM broker: .*ECONNREFUSED 127\.0\.0\.1:1.*KAFKA_BROKERS/);
    assert.match(result.stdout, /^ok +registry: /m, 'the registry is still checked');
    for (const check of ['topics', 'acls', 'transaction timeout'])
      assert.ok(lines.includes(`PROBLEM ${check}: not checked: the broker is unreachable (KAFKA_BROKERS)`));
  });

  test('a changelog with another partition count than the input is a problem, found read-only, as start-up finds it', async () => {
    const { names, env } = await pipeline(suite);
    await createTopics(suite.kafka, [{ topic: names.changelog, partitions: 1 }]);
    const result = await runCli(['config', 'check'], env);
    assert.equal(result.code, 1, describeRun(result));
    const lines = problems(result);
    assert.equal(lines.length, 2, describeRun(result));
    assert.match(
      lines[0] ?? '',
      new RegExp(`changelog ${names.changelog} has 1 partitions but input ${names.input} has 2`),
    );
    assert.match(
      lines[1] ?? '',
      new RegExp(`changelog ${names.changelog} has cleanup.policy=delete; it must include compact`),
    );
    assert.ok(!(await topicNames(suite.kafka)).has(processingAttemptsTopic(names.appId)));

    // Start-up runs the same checks after creating what is missing, and refuses with the same first line.
    const stage = suite.start(names);
    const exit = await stage.exited;
    assert.notEqual(exit.code, 0, stage.output().slice(-2000));
    assert.ok(
      stage.output().includes((lines[0] ?? '').replace('PROBLEM topics: ', '')),
      stage.output().slice(-2000),
    );
  });
});

describe('against a broker whose transaction.max.timeout.ms is 120000', () => {
  const suite = usePrivateBroker({ extraProperties: { 'transaction.max.timeout.ms': '120000' } });

  test('TRANSACTION_TIMEOUT_MS above the broker maximum fails with a line naming TRANSACTION_TIMEOUT_MS', async () => {
    const { env } = await pipeline(suite);
    const above = await runCli(['config', 'check'], { ...env, TRANSACTION_TIMEOUT_MS: '180000' });
    assert.equal(above.code, 1, describeRun(above));
    assert.deepEqual(problems(above), [
      "PROBLEM transaction timeout: TRANSACTION_TIMEOUT_MS=180000 is not allowed: the broker's transaction.max.timeout.ms is 120000",
    ]);
    const within = await runCli(['config', 'check'], { ...env, TRANSACTION_TIMEOUT_MS: '120000' });
    assert.equal(within.code, 0, describeRun(within));
  });
});
