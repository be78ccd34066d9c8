/**
 * STREAM_THREADS=2: one process, two worker threads, each its own member of the input group. The group (read
 * with kafkajs's admin, not through the stage) has two members, one per thread, holding disjoint halves of the
 * partitions; the one operations endpoint reports both threads' series, labelled, and the process's own once. A
 * SIGKILL of the process (both threads at once) and a restart lose and duplicate nothing. A thread fenced by
 * another process that joins under its static id ends the process with a failure, after the other thread stopped
 * cleanly. Every run is audited exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { AssignerProtocol, type Kafka } from 'kafkajs';
import { freePort } from '../../scripts/stack/local-stack.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import { committedOffsets } from '../support/kafka.js';
import {
  createPipeline,
  loadInventory,
  produceFlush,
  produceWorkload,
  waitForDrain,
  type PipelineNames,
} from '../support/pipeline.js';
import { START_MS, assertNoViolations, auditScenario } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';
import { eventually, probe, scrape } from '../observability/scrape.js';

const suite = useStageSuite();
const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 10_000;
const SETTINGS = {
  STREAM_THREADS: '2',
  // Small transactions: the input takes many commits, so the SIGKILL lands mid-run.
  COMMIT_MAX_RECORDS: '20',
  SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
  HEARTBEAT_INTERVAL_MS: '1000',
  STATIC_MEMBERSHIP: 'true',
};

async function preloadedPipeline(seed: number): Promise<PipelineNames> {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const workload = [...metrics({ hosts: 40, perHost: 300, startMs: START_MS, stepMs: 2000, seed })].sort(
    (a, b) => a.timestamp - b.timestamp,
  );
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, START_MS + 3_600_000);
  return names;
}

interface Member {
  clientId: string;
  partitions: number[];
}

/** The input group's members and their input partitions, as the group coordinator describes them. */
async function groupMembers(kafka: Kafka, names: PipelineNames): Promise<Member[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([names.appId])).groups;
    return (group?.members ?? []).map((member) => ({
      clientId: member.clientId,
      partitions: [
        ...(AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[names.input] ?? []),
      ].sort((a, b) => a - b),
    }));
  } finally {
    await admin.disconnect();
  }
}

async function committedOnEveryPartition(names: PipelineNames): Promise<boolean> {
  const committed = await committedOffsets(suite.kafka, names.appId, names.input);
  return Array.from({ length: PARTITIONS }, (_, p) => BigInt(committed.get(p) ?? '-1')).every((o) => o >= 0n);
}

test('STREAM_THREADS=2: two members share the partitions, one endpoint reports both, a SIGKILL loses and duplicates nothing', async (t) => {
  const names = await preloadedPipeline(61);
  const port = await freePort();
  const env = { ...SETTINGS, INSTANCE_ID: 'st', METRICS_PORT: String(port) };
  const first = suite.start(names, env);

  // A thread that joins after the other's first rebalance holds nothing until the next one settles.
  const members = await eventually('two members, each with partitions', 60_000, async () => {
    const found = await groupMembers(suite.kafka, names);
    return found.length === 2 && found.every((m) => m.partitions.length > 0) ? found : undefined;
  });
  t.diagnostic(`members: ${JSON.stringify(members)}`);
  assert.deepEqual(
    members.map((m) => m.clientId).sort(),
    [`${names.appId}-st-1`, `${names.appId}-st-2`],
    'one member per thread, named by INSTANCE_ID and the thread number',
  );
  assert.deepEqual(
    members.flatMap((m) => m.partitions).sort((a, b) => a - b),
    [0, 1, 2, 3],
    'the shares are disjoint and cover the input',
  );

  const scraped = await eventually('both threads consuming, as /metrics says', 30_000, async () => {
    const s = await scrape(port);
    return ['1', '2'].every((thread) => s.sum('eos_rollup_records_consumed_total', { thread }) > 0)
      ? s
      : undefined;
  });
  assert.equal(
    scraped.all('process_cpu_user_seconds_total').length,
    1,
    "the process's own metrics appear once, not once per thread",
  );
  const ready = await eventually('ready', 30_000, async () => {
    const answer = await probe(port, '/readyz');
    return answer.status === 200 ? answer : undefined;
  });
  assert.equal((ready.body.threads as unknown[]).length, 2, '/readyz reports each thread');
  assert.equal((await probe(port, '/healthz')).status, 200);

  await eventually('a commit on every partition', 60_000, async () =>
    (await committedOnEveryPartition(names)) ? true : undefined,
  );
  const killed = await first.stop('SIGKILL');
  assert.deepEqual(killed, { code: null, signal: 'SIGKILL' }, 'the process really died by SIGKILL');
  const committed = await committedOffsets(suite.kafka, names.appId, names.input);
  const ends = await partitionRanges(suite.kafka, names.input, 'read_committed');
  const behind = [...ends].filter(([p, range]) => BigInt(committed.get(p) ?? '-1') < range.end);
  assert.ok(behind.length > 0, 'the kill struck before the input was drained');

  const second = suite.start(names, env);
  await waitForDrain(suite.kafka, names, 180_000, [second]);
  assert.equal((await second.stop('SIGTERM')).code, 0, 'a clean stop of both threads');
  assert.match(second.output(), /stream thread 1 stopped/);
  assert.match(second.output(), /stream thread 2 stopped/);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});

test('a fenced stream thread ends its process with a failure after the other thread stopped cleanly', async (t) => {
  const names = await preloadedPipeline(62);
  const threaded = suite.start(names, { ...SETTINGS, INSTANCE_ID: 'sf' });
  await eventually('a commit on every partition', 60_000, async () =>
    (await committedOnEveryPartition(names)) ? true : undefined,
  );
  // Joins as thread 1's static member: the broker fences the older holder of the id, the thread.
  const intruder = suite.start(names, { ...SETTINGS, STREAM_THREADS: '1', INSTANCE_ID: 'sf-1' });
  const exit = await threaded.exited;
  t.diagnostic(`the threaded process exited with ${JSON.stringify(exit)}`);
  assert.notEqual(exit.code, 0, 'the process reports the failure');
  const output = threaded.output();
  assert.match(output, /two processes share INSTANCE_ID sf-1/);
  assert.match(output, /"thread":2,[^\n]*"msg":"stopped cleanly"/, 'the other thread stopped cleanly');
  assert.match(output, /stream thread 1 ended with exit code [1-9]/);
  assert.equal(intruder.child.exitCode, null, 'the other process keeps running');

  await waitForDrain(suite.kafka, names, 180_000, [intruder]);
  assert.equal((await intruder.stop('SIGTERM')).code, 0);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
