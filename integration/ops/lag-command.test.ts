/**
 * Contract: `eos-rollup lag` reports exactly what the broker knows about a group, and judges it with Burrow's
 * rules. On a topic with known end offsets and a group with known committed offsets:
 * - lag in records is the last stable offset minus the committed offset (from the log start without one), so a
 *   commit marker is no lag and neither is an upstream transaction still open;
 * - lag in seconds is the age of the record at the committed offset, from its Kafka timestamp;
 * - a partition with lag that makes no progress is STOP when no member owns it and STALL when one does (its
 *   client id and host are the owner); the group is then ERR and the exit code 1;
 * - once the group has caught up every partition is OK and the exit code 0, also in --watch mode until Ctrl-C.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import type { LagReport } from '../../src/ops/lag-report.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { createTopics, testKafka, uniqueName, withAdmin } from '../support/kafka.js';
import { describeRun, runCli, startCli } from './cli.js';

let env: TestEnvironment;
let kafka: Kafka;
before(async () => {
  env = await testEnvironment();
  kafka = testKafka(env);
});

const FAST_WINDOW = ['--samples', '3', '--interval-ms', '400'];

function lagEnv(topic: string, group: string): Record<string, string> {
  return {
    KAFKA_BROKERS: env.brokers,
    SCHEMA_REGISTRY_URL: env.registryUrl,
    APP_ID: group,
    INPUT_TOPIC: topic,
    LOG_LEVEL: 'info',
  };
}

async function lagJson(topic: string, group: string): Promise<{ code: number | null; report: LagReport }> {
  const result = await runCli(['lag', '--json', ...FAST_WINDOW], lagEnv(topic, group));
  assert.ok(result.stdout.trim().startsWith('{'), describeRun(result));
  return { code: result.code, report: JSON.parse(result.stdout) as LagReport };
}

async function setOffsets(group: string, topic: string, offsets: [number, number][]): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.setOffsets({
      groupId: group,
      topic,
      partitions: offsets.map(([partition, offset]) => ({ partition, offset: String(offset) })),
    }),
  );
}

test('lag reports exact numbers for a known group: STOP without owner, STALL with one, OK once caught up', async () => {
  const topic = uniqueName('it-lag');
  const group = uniqueName('it-lag-group');
  await createTopics(kafka, [{ topic, partitions: 3 }]);

  // p0: 10 records, 10 minutes old, one second apart; p1: 20 records of 200+ bytes; p2: 30 records in a committed
  // transaction (so a commit marker at offset 30), then 5 more in a transaction left open.
  const t0 = Date.now() - 600_000;
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await plain.connect();
  await plain.send({
    topic,
    messages: [
      ...Array.from({ length: 10 }, (_, i) => ({
        partition: 0,
        value: `p0-${i}`,
        timestamp: String(t0 + i * 1000),
      })),
      // Over 1 KB in one batch: the broker returns a batch larger than the partition's fetch limit only to the
      // first partition of a fetch request, so the lag reader must not ask for several partitions at once.
      ...Array.from({ length: 20 }, (_, i) => ({
        partition: 1,
        value: `p1-${i}-${'x'.repeat(200)}`,
        timestamp: String(t0),
      })),
    ],
  });
  await plain.disconnect();
  const upstream = kafka.producer({ transactionalId: uniqueName('it-lag-upstream'), maxInFlightRequests: 1 });
  await upstream.connect();
  const committed = await upstream.transaction();
  await committed.send({
    topic,
    messages: Array.from({ length: 30 }, (_, i) => ({ partition: 2, value: `p2-${i}` })),
  });
  await committed.commit();
  const open = await upstream.transaction();
  await open.send({
    topic,
    messages: Array.from({ length: 5 }, (_, i) => ({ partition: 2, value: `open-${i}` })),
  });
  after(async () => {
    await open.abort().catch(() => undefined);
    await upstream.disconnect();
  });
  const highWatermarks = await partitionRanges(kafka, topic, 'read_uncommitted');
  assert.equal(highWatermarks.get(2)?.end, 36n, '30 records, a marker, 5 open records');

  await setOffsets(group, topic, [
    [0, 4],
    [2, 31],
  ]);
  const stopped = await lagJson(topic, group);
  assert.equal(stopped.code, 1, 'ERR exits 1');
  const { report } = stopped;
  assert.equal(report.group, group);
  assert.equal(report.topic, topic);
  assert.equal(report.status, 'ERR');
  assert.equal(report.groupState, 'Empty');
  assert.equal(report.window.samples, 3);
  assert.equal(report.totalLag, 26);
  const atMs = Date.parse(report.evaluatedAt);
  assert.deepEqual(
    report.partitions.map((p) => [p.partition, p.currentOffset, p.logEndOffset, p.lag, p.owner, p.status]),
    [
      [0, 4, 10, 6, null, 'STOP'],
      [1, null, 20, 20, null, 'STOP'],
      [2, 31, 31, 0, null, 'OK'],
    ],
  );
  const [p0, p1, p2] = report.partitions;
  assert.ok(p0 && p1 && p2);
  assert.equal(p0.lagSeconds, (atMs - (t0 + 4000)) / 1000, 'the age of the record at offset 4');
  assert.equal(p1.lagSeconds, (atMs - t0) / 1000, 'without a committed offset: the age of the first record');
  assert.equal(p2.lagSeconds, 0);
  // The span is measured between the first and last samples' lookups (800 ms apart plus their round trips).
  assert.match(p0.reason, /no progress for \d+\.\d s at offset 4 with lag 6 and no group member owns/);

  // A member joins, owns every partition, and never commits: no progress although owned.
  const clientId = uniqueName('it-lag-member');
  const member = testKafka(env, clientId).consumer({
    groupId: group,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  const joined = new Promise<void>((resolve) => {
    member.on(member.events.GROUP_JOIN, () => {
      resolve();
    });
  });
  await member.connect();
  await member.subscribe({ topic, fromBeginning: true });
  await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() });
  await joined;
  try {
    const stalled = await lagJson(topic, group);
    assert.equal(stalled.code, 1);
    assert.equal(stalled.report.groupState, 'Stable');
    assert.deepEqual(
      stalled.report.partitions.map((p) => [p.partition, p.status, p.owner?.clientId, p.owner?.host]),
      [
        [0, 'STALL', clientId, '127.0.0.1'],
        [1, 'STALL', clientId, '127.0.0.1'],
        [2, 'OK', clientId, '127.0.0.1'],
      ],
    );
    assert.ok(stalled.report.partitions.every((p) => p.owner?.memberId.startsWith(clientId)));
  } finally {
    await member.disconnect();
  }

  // Caught up: the group's offsets at the last stable offsets.
  await setOffsets(group, topic, [
    [0, 10],
    [1, 20],
  ]);
  const caughtUp = await lagJson(topic, group);
  assert.equal(caughtUp.code, 0, 'OK exits 0');
  assert.equal(caughtUp.report.status, 'OK');
  assert.equal(caughtUp.report.totalLag, 0);
  assert.equal(caughtUp.report.maxLagSeconds, 0);
  assert.deepEqual(
    caughtUp.report.partitions.map((p) => [p.status, p.reason]),
    [
      ['OK', 'no lag'],
      ['OK', 'no lag'],
      ['OK', 'no lag'],
    ],
  );

  // The human table says the same.
  const table = await runCli(['lag', ...FAST_WINDOW], lagEnv(topic, group));
  assert.equal(table.code, 0, describeRun(table));
  assert.match(table.stdout, new RegExp(`^group ${group} on ${topic}: OK \\(state Empty,`));
  assert.match(table.stdout, /\n\s+0\s+10\s+10\s+0\s+0\.0\s+OK\s+-\s+no lag\n/);

  // --watch: one JSON document per sample once the window is full, until Ctrl-C; exit code of the last report.
  const watch = startCli(
    ['lag', '--watch', '--json', '--samples', '2', '--interval-ms', '300'],
    lagEnv(topic, group),
  );
  const deadline = Date.now() + 30_000;
  while (
    watch
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{')).length < 2 &&
    Date.now() < deadline
  )
    await new Promise((resolve) => setTimeout(resolve, 100));
  watch.child.kill('SIGINT');
  const exit = await watch.exited;
  const documents = watch
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  assert.ok(documents.length >= 2, `two refreshes before Ctrl-C:\n${watch.stdout()}\n${watch.stderr()}`);
  assert.ok(documents.every((d) => (JSON.parse(d) as LagReport).status === 'OK'));
  assert.deepEqual(exit, { code: 0, signal: null });
});

test('lag refuses a topic that does not exist, naming it', async () => {
  const topic = uniqueName('it-lag-missing');
  const result = await runCli(['lag'], lagEnv(topic, 'g'));
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim(), `eos-rollup: topic ${topic} does not exist (INPUT_TOPIC)`);
});
