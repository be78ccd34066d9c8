/**
 * Contract: `eos-rollup reset` makes the next run re-process the input from the start, as
 * kafka-streams-application-reset does, and refuses to touch a group that has a running stage.
 *
 * The story: a stage drains a workload (its rollups are complete). While a stage is running in the group, reset
 * refuses and names the member, changing nothing. Stopped, a dry run reports the plan and changes nothing. Then
 * `reset --yes` sets the committed offsets to the earliest (Kafka's own kafka-consumer-groups is the reference)
 * and deletes the changelog and processing-attempts topics. The next run recreates both and re-processes the
 * whole input: the output then holds every rollup twice, the second set complete and exact on its own.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { processingAttemptsTopic } from '../../src/kafka/stage/attempt-journal.js';
import { repoRoot } from '../../scripts/stack/paths.js';
import { committedOffsets, readAll } from '../support/kafka.js';
import { compareRollups, decodeRollup, expectedWindows } from '../support/pipeline.js';
import { WINDOWS, prepareScenario, runOnce, type Scenario } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';
import { describeRun, pipelineEnv, runCli } from './cli.js';

const suite = useStageSuite();
const PARTITIONS = 2;

async function topicNames(kafka: Kafka): Promise<Set<string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
}

async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** CURRENT-OFFSET per partition of `topic`, as Kafka's own kafka-consumer-groups --describe reports it. */
async function javaCommittedOffsets(group: string, topic: string): Promise<Map<number, string>> {
  const { stdout } = await promisify(execFile)(
    'bash',
    [join(repoRoot(), 'scripts', 'kafka-tool'), 'kafka-consumer-groups', '--describe', '--group', group],
    { env: { ...process.env, KAFKA_BROKERS: suite.env.brokers }, timeout: 120_000 },
  );
  const offsets = new Map<number, string>();
  for (const line of stdout.split('\n')) {
    const [g, t, partition, current] = line.trim().split(/\s+/);
    if (g === group && t === topic && partition !== undefined && current !== undefined)
      offsets.set(Number(partition), current);
  }
  return offsets;
}

/** Until the group has a member (the stage joined), or fails with the stage's log. */
async function waitForMember(group: string, log: () => string): Promise<void> {
  const admin = suite.kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([group]);
      if ((groups[0]?.members.length ?? 0) > 0) return;
      if (Date.now() > deadline) throw new Error(`the stage never joined ${group}:\n${log().slice(-2000)}`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

let scenario: Scenario;
let env: Record<string, string>;
let firstRunEnds: Map<number, bigint>;

test('a drained first run: complete rollups, offsets at the end, changelog and attempts topics present', async () => {
  scenario = await prepareScenario(suite, { partitions: PARTITIONS, hosts: 6, perHost: 40, seed: 11 });
  env = pipelineEnv(suite.env, scenario.names);
  const run = await runOnce(suite, scenario.names, {});
  assert.equal(run.exit.code, 0, run.stage.output().slice(-2000));
  const { records, complete } = await readAll(suite.kafka, scenario.names.output);
  assert.ok(complete);
  const expected = expectedWindows(scenario.workload, WINDOWS.sizeMs);
  assert.deepEqual(compareRollups(records.map(decodeRollup), expected), []);
  firstRunEnds = await endOffsets(suite.kafka, scenario.names.output);
  const topics = await topicNames(suite.kafka);
  assert.ok(topics.has(scenario.names.changelog));
  assert.ok(topics.has(processingAttemptsTopic(scenario.names.appId)));
});

test('reset refuses while a stage is running in the group, names the member, and changes nothing', async () => {
  const before = await committedOffsets(suite.kafka, scenario.names.appId, scenario.names.input);
  const stage = suite.start(scenario.names, { INSTANCE_ID: 'reset-refusal' });
  try {
    await waitForMember(scenario.names.appId, stage.output);
    const refused = await runCli(['reset', '--yes'], env);
    assert.equal(refused.code, 1, describeRun(refused));
    assert.match(refused.stderr, /has 1 active member\(s\): .*@.* \(.+\); stop every instance/);
    assert.equal(stage.child.exitCode, null, 'the running stage was left alone');
  } finally {
    await stage.stop('SIGTERM');
  }
  assert.deepEqual(await committedOffsets(suite.kafka, scenario.names.appId, scenario.names.input), before);
  assert.ok((await topicNames(suite.kafka)).has(scenario.names.changelog));
});

test('reset --dry-run reports the plan and changes nothing', async () => {
  const before = await committedOffsets(suite.kafka, scenario.names.appId, scenario.names.input);
  const dry = await runCli(['reset', '--dry-run'], env);
  assert.equal(dry.code, 0, describeRun(dry));
  assert.match(dry.stdout, /would set the committed offsets on .* to the earliest offsets/);
  assert.match(dry.stdout, new RegExp(`would delete topic ${scenario.names.changelog}`));
  assert.match(dry.stdout, /dry run, nothing changed/);
  assert.deepEqual(await committedOffsets(suite.kafka, scenario.names.appId, scenario.names.input), before);
  for (const p of before.values()) assert.notEqual(p, '0', 'offsets were past the start before the reset');
  const topics = await topicNames(suite.kafka);
  assert.ok(topics.has(scenario.names.changelog));
  assert.ok(topics.has(processingAttemptsTopic(scenario.names.appId)));

  // By time: no record was written after tomorrow, so ListOffsets by timestamp gives every partition's end.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  const byTime = await runCli(['reset', '--dry-run', '--to-datetime', tomorrow], env);
  assert.equal(byTime.code, 0, describeRun(byTime));
  const ends = await endOffsets(suite.kafka, scenario.names.input);
  for (const [partition, end] of ends)
    assert.match(
      byTime.stdout,
      new RegExp(`\\n  partition ${partition}: \\d+ -> ${end}\\n`),
      describeRun(byTime),
    );
  assert.deepEqual(await committedOffsets(suite.kafka, scenario.names.appId, scenario.names.input), before);
});

test('reset --yes sets the offsets to earliest (per kafka-consumer-groups) and deletes the two state topics', async () => {
  const reset = await runCli(['reset', '--yes'], env);
  assert.equal(reset.code, 0, describeRun(reset));
  assert.match(reset.stdout, /output and DLQ topics are not touched/);
  const java = await javaCommittedOffsets(scenario.names.appId, scenario.names.input);
  assert.deepEqual(
    [...java].sort(([a], [b]) => a - b),
    Array.from({ length: PARTITIONS }, (_, p) => [p, '0']),
    'kafka-consumer-groups shows every partition back at offset 0',
  );
  const topics = await topicNames(suite.kafka);
  assert.ok(!topics.has(scenario.names.changelog), 'changelog deleted');
  assert.ok(!topics.has(processingAttemptsTopic(scenario.names.appId)), 'attempts topic deleted');
  assert.ok(topics.has(scenario.names.output) && topics.has(scenario.names.dlq), 'output and DLQ kept');
});

test('the run after a reset recreates the state topics and re-processes the input: a second, complete set of rollups', async () => {
  const run = await runOnce(suite, scenario.names, {});
  assert.equal(run.exit.code, 0, run.stage.output().slice(-2000));
  const created =
    run.stage
      .output()
      .split('\n')
      .find((l) => l.includes('created missing topics')) ?? '';
  assert.ok(created.includes(scenario.names.changelog), `changelog recreated (empty):\n${created}`);
  assert.ok(created.includes(processingAttemptsTopic(scenario.names.appId)), 'attempts topic recreated');
  const { records, complete } = await readAll(suite.kafka, scenario.names.output);
  assert.ok(complete);
  const isSecond = (r: { partition: number; offset: string }) =>
    BigInt(r.offset) >= (firstRunEnds.get(r.partition) ?? 0n);
  const first = records.filter((r) => !isSecond(r)).map(decodeRollup);
  const second = records.filter(isSecond).map(decodeRollup);
  const expected = expectedWindows(scenario.workload, WINDOWS.sizeMs);
  assert.deepEqual(compareRollups(first, expected), [], "the first run's rollups are untouched");
  assert.deepEqual(compareRollups(second, expected), [], 'the re-processing alone is complete and exact');
  assert.equal(records.length, 2 * expected.size, 'every rollup is there twice, as a reset means');
});
