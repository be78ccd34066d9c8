/**
 * Quarantine, end to end on the real broker: a record that kills the process every time it is processed (a
 * SIGKILL fault at its offset, every time) is found by isolation; by default its partition is then quarantined
 * instead of the record being dead-lettered. The stage stays up: /readyz answers 503 naming the partition and the
 * offset, the metric eos_rollup_quarantined_partition_offset names them, so does an error log line, and the
 * other partition drains. `eos-rollup quarantine dead-letter` refuses while the stage runs, and once it is
 * stopped dead-letters the record and moves the committed offset past it in one transaction; a clean stage then
 * drains the partition. The judge recomputes the rollups from the test's own input minus the culprit.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { freePort } from '../../scripts/stack/local-stack.js';
import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { CRASHES_BEFORE_ISOLATION, MAX_PROCESSING_ATTEMPTS } from '../../src/engine/attempt-policy.js';
import { committedOffsets, partitionRanges } from '../../src/kafka/client/offsets.js';
import { eventually, probe } from '../observability/scrape.js';
import { producerPartitionOf, readAll } from '../support/kafka.js';
import { compareRollups, expectedWindows, readRollups, type StageProcess } from '../support/pipeline.js';
import {
  FAULT_SETTINGS,
  WINDOWS,
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';
import { release, waitForLine, waitUntilHeld, type LogLine } from '../support/fault-hold.js';
import { useStageSuite } from '../support/stage-suite.js';
import { describeRun, pipelineEnv, runCli } from './cli.js';

const suite = useStageSuite();
const QUARANTINED_LOG = /partition 0 quarantined at offset (\d+)/;
const OTHER_QUARANTINED_LOG = /partition 1 quarantined at offset (\d+)/;
const CULPRIT = 7n;

async function deadOrQuarantined(stage: StageProcess, timeoutMs: number): Promise<'died' | 'quarantined'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (QUARANTINED_LOG.test(stage.output())) return 'quarantined';
    if (stage.child.exitCode !== null || stage.child.signalCode !== null) return 'died';
    if (Date.now() > deadline)
      throw new Error(`neither died nor quarantined in ${timeoutMs} ms:\n${stage.output().slice(-3000)}`);
    await sleep(100);
  }
}

/**
 * In each run partition 0's task is held right after its first journal write, and partition 1's pauses 5 s after
 * its own: the culprit kills the process once partition 1's attempt stands in the journal, or once partition 1
 * cannot get there because partition 0 holds the isolation gate. Without the gate those deaths can count against
 * partition 1's isolated record too (its negative control is test/engine/isolation-across-partitions.test.ts: on
 * the real broker, whether partition 1's batch comes in the fetch that partition 0's hold blocks is not ours to
 * decide, so the control would be a race).
 */
const FAULTS = [`process-record@o${CULPRIT}/p0:kill`, 'after-arm@1/p0:hold', 'after-arm@1/p1:stall5000'].join(
  ',',
);

interface KillLoop {
  names: Awaited<ReturnType<typeof prepareScenario>>['names'];
  workload: Awaited<ReturnType<typeof prepareScenario>>['workload'];
  stage: StageProcess;
  port: number;
  kills: number;
}

const isArmed = (partition: number) => (line: LogLine) =>
  line.msg === 'injecting fault' && line.fault?.point === 'after-arm' && line.partition === partition;

/**
 * Starts the stage with the faults until a run quarantines partition 0 instead of dying. Partition 0's task is
 * released once partition 1's attempt stands; with the gate, partition 1 may be kept from journaling while
 * partition 0 holds it, so the release then comes after 5 s without partition 1.
 */
async function killUntilQuarantined(seed: number): Promise<KillLoop> {
  const { names, workload } = await prepareScenario(suite, { partitions: 2, hosts: 10, perHost: 20, seed });
  let kills = 0;
  for (;;) {
    const port = await freePort();
    const stage = suite.start(names, {
      ...FAULT_SETTINGS,
      EOS_ROLLUP_FAULT: FAULTS,
      METRICS_PORT: String(port),
    });
    const holding = waitUntilHeld(stage, 120_000).then(() => true);
    const ending = deadOrQuarantined(stage, 120_000).then(() => false);
    // The loser of the race keeps polling and rejects once the stage is gone: it has nothing more to say.
    holding.catch(() => undefined);
    ending.catch(() => undefined);
    const held = await Promise.race([holding, ending]);
    if (held) {
      await waitForLine(stage, 'partition 1 journaled', isArmed(1), 5_000).catch(() => undefined);
      release(stage);
    }
    if ((await deadOrQuarantined(stage, 120_000)) === 'quarantined')
      return { names, workload, stage, port, kills };
    assertKilled({ exit: await stage.exited, stage }, `run ${kills + 1}`);
    kills += 1;
    assert.ok(kills <= 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS, 'no crash loop');
    // The next process joins an empty group: no rebalance closes its tasks (taking their attempts back) mid-run.
    await groupEmpty(names.appId);
  }
}

/** Until the killed member's session expired and the group has no member left. */
async function groupEmpty(groupId: string): Promise<void> {
  const admin = suite.kafka.admin();
  await admin.connect();
  try {
    await eventually(`group ${groupId} empty`, 60_000, async () => {
      const [group] = (await admin.describeGroups([groupId])).groups;
      return group?.state === 'Empty' ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
}

test('a record that kills the process every time quarantines its partition; the other drains though its isolated records stood at each death; the operator command dead-letters it and the partition drains', async (t) => {
  const culprit = CULPRIT;
  const { names, workload, stage, port, kills } = await killUntilQuarantined(325);
  assert.ok(kills >= MAX_PROCESSING_ATTEMPTS, `${kills} SIGKILLs before the quarantine`);
  assert.doesNotMatch(stage.output(), OTHER_QUARANTINED_LOG);
  assert.equal(QUARANTINED_LOG.exec(stage.output())?.[1], culprit.toString(), 'the log names the offset');

  const readyz = await eventually('readyz names the quarantine', 30_000, async () => {
    const answer = await probe(port, '/readyz');
    return answer.body.reasons.some((r) => r.startsWith(`partition 0 quarantined at offset ${culprit}:`))
      ? answer
      : undefined;
  });
  assert.equal(readyz.status, 503);
  const metric = await eventually('the metric names the quarantine', 30_000, async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /^eos_rollup_quarantined_partition_offset\{partition="0"\} (\d+)$/m.exec(text)?.[1];
  });
  assert.equal(metric, culprit.toString());

  // The other partition drains while partition 0 stays where the culprit is.
  const ends = await partitionRanges(suite.kafka, names.input, 'read_committed');
  await eventually('partition 1 drains', 60_000, async () => {
    const committed = await committedOffsets(suite.kafka, names.appId, names.input);
    return committed.get(1) === ends.get(1)?.end ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${stage.output().slice(-4000)}`);
  });
  assert.equal((await committedOffsets(suite.kafka, names.appId, names.input)).get(0), culprit);

  const env = pipelineEnv(suite.env, names);
  const refused = await runCli(['quarantine', 'dead-letter', '--partition', '0'], env);
  assert.notEqual(refused.code, 0, describeRun(refused));
  assert.match(refused.stderr, /active member/, describeRun(refused));
  const status = await runCli(['quarantine', 'status'], env);
  assert.match(
    status.stdout,
    new RegExp(`partition 0: QUARANTINED at offset ${culprit};`),
    describeRun(status),
  );
  assert.match(status.stdout, /partition 1: ok;/, describeRun(status));

  assert.equal((await stage.stop('SIGTERM')).code, 0, 'the quarantined stage stops cleanly');
  const resolved = await runCli(['quarantine', 'dead-letter', '--partition', '0'], env);
  assert.equal(resolved.code, 0, describeRun(resolved));
  assert.equal((await committedOffsets(suite.kafka, names.appId, names.input)).get(0), culprit + 1n);

  const clean = await runOnce(suite, names, {});
  assert.equal(clean.exit.code, 0, `a clean stage drains partition 0:\n${clean.stage.output().slice(-2000)}`);
  assert.doesNotMatch(clean.stage.output(), QUARANTINED_LOG);

  const dlq = await readAll(suite.kafka, names.dlq);
  assert.deepEqual(
    dlq.records.map((r) => [
      r.headers?.[DLQ_HEADERS.offset]?.toString(),
      r.headers?.[DLQ_HEADERS.reason]?.toString(),
    ]),
    [[culprit.toString(), 'processing-failed']],
    'the culprit, exactly once',
  );
  // The judge: the input, minus the culprit (the 8th record produced to partition 0), grouped offline.
  const partitionOf = producerPartitionOf(2);
  const culpritMetric = workload.filter((m) => partitionOf(Buffer.from(m.host)) === 0)[Number(culprit)];
  const expected = expectedWindows(
    workload.filter((m) => m !== culpritMetric),
    WINDOWS.sizeMs,
  );
  const rollups = (await readRollups(suite.kafka, names.output)).filter((r) => !r.host.startsWith('flush-'));
  assert.deepEqual(compareRollups(rollups, expected), []);
  // The culprit kills the process on purpose: the auditor accepts its processing-failed dead letter, no other.
  const outcome = await auditScenario(suite.env, suite.kafka, names, true, {
    culprits: [{ partition: 0, offset: culprit }],
  });
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 1);
  t.diagnostic(`${kills} SIGKILLs; partition 1 drained while 0 was quarantined at ${culprit}`);
});
