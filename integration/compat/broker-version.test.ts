/**
 * Contract: the stage refuses brokers older than Kafka 4.0 at start and accepts 4.x, judged from the ApiVersions
 * answer kafkajs reads.
 * - The shared Kafka 4.1 broker passes, and what kafkajs reads for the two marker requests is what Kafka's own
 *   `BrokerApiVersionsCommand` reports for that broker.
 * - A real Apache Kafka 3.9.1 broker (jars from Maven Central, started here in KRaft mode): `eos-rollup run`
 *   exits non-zero before touching any topic, with one line naming KAFKA_BROKERS, the range and the reason.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { findJava } from '../../scripts/stack/java.js';
import { freePort, newClusterId } from '../../scripts/stack/local-stack.js';
import { repoRoot, stackPaths } from '../../scripts/stack/paths.js';
import { checkBrokerVersion, readApiVersions } from '../../src/kafka/client/broker-version.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { createPipeline, startStage } from '../support/pipeline.js';
import { testKafka } from '../support/kafka.js';

const OLD_KAFKA = '3.9.1';
/** Outside the repository and the shared stack: a cache of jars every worktree and run may reuse. */
const OLD_KAFKA_LIBS = join(tmpdir(), `eos-rollup-kafka-${OLD_KAFKA}-libs`);

let env: TestEnvironment;
before(async () => {
  env = await testEnvironment();
});

function plainKafka(brokers: string): Kafka {
  return new Kafka({ brokers: [brokers], clientId: 'broker-version-test', logLevel: logLevel.NOTHING });
}

test('the shared Kafka 4.1 broker passes, and kafkajs reads the marker versions Kafka’s own tool reports', async () => {
  await checkBrokerVersion(testKafka(env));
  const versions = await readApiVersions(testKafka(env));
  const java = findJava(17);
  const report = execFileSync(
    java.bin,
    [
      '-cp',
      `${stackPaths().kafkaLibs}/*`,
      'org.apache.kafka.tools.BrokerApiVersionsCommand',
      '--bootstrap-server',
      env.brokers.split(',')[0] ?? env.brokers,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  for (const [name, apiKey] of [
    ['Fetch', 1],
    ['OffsetCommit', 8],
  ] as const) {
    const match = new RegExp(`${name}\\(${apiKey}\\): (\\d+) to (\\d+)`).exec(report);
    assert.ok(match, `${name} in the tool's report:\n${report}`);
    assert.deepEqual(
      { minVersion: Number(match[1]), maxVersion: Number(match[2]) },
      versions[apiKey],
      `${name}: kafkajs and BrokerApiVersionsCommand agree`,
    );
  }
});

/** A single-node KRaft Kafka 3.9.1 on free ports in its own directory; killed and removed after the file. */
async function startOldBroker(): Promise<{ brokers: string; child: ChildProcess }> {
  if (!existsSync(join(OLD_KAFKA_LIBS, `kafka_2.13-${OLD_KAFKA}.jar`))) {
    mkdirSync(OLD_KAFKA_LIBS, { recursive: true });
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        join(repoRoot(), 'integration', 'compat', 'broker-version-kafka-3.9.pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${OLD_KAFKA_LIBS}`,
        '-DincludeScope=runtime',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-kafka-3.9-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      '',
    ].join('\n'),
  );
  const java = findJava(17);
  const classpath = `${OLD_KAFKA_LIBS}/*`;
  // Never an id that starts with '-' (the argument parser would take it for an option), and passed with '='.
  execFileSync(
    java.bin,
    [
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${newClusterId()}`,
      '-c',
      properties,
    ],
    // Piped, so a failure's message carries the tool's own words.
    { stdio: 'pipe' },
  );
  const child = spawn(java.bin, ['-Xmx512m', '-cp', classpath, 'kafka.Kafka', properties], {
    stdio: 'ignore',
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const brokers = `127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      await readApiVersions(plainKafka(brokers));
      return { brokers, child };
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw error;
      await sleep(500);
    }
  }
}

/** The exit, or undefined after `ms`; the timer is cleared so it cannot hold the test process open. */
async function exitWithin<T>(exited: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test(`a real Kafka ${OLD_KAFKA} broker is refused at start with one line naming KAFKA_BROKERS, the range and why`, async () => {
  const old = await startOldBroker();
  // Its topics exist on the old broker, so that nothing but the version check stops the stage there.
  const names = await createPipeline(plainKafka(old.brokers), 1);
  const stage = startStage({ ...env, brokers: old.brokers }, names);
  const exit = await exitWithin(stage.exited, 60_000);
  await stage.stop('SIGKILL');
  if (exit === undefined) assert.fail(`the stage did not exit within 60 s:\n${stage.output()}`);
  assert.notEqual(exit.code, 0, stage.output());
  assert.match(
    stage.output(),
    /the brokers in KAFKA_BROKERS are older than Kafka 4\.0 \(they advertise Fetch v0-v17, OffsetCommit v0-v9;/,
  );
  assert.match(stage.output(), /apply transactional offset commits asynchronously/);
  assert.doesNotMatch(stage.output(), /created missing topics/, 'refused before touching any topic');
});
