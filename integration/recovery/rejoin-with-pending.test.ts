/**
 * Contract: a partition a member keeps through a rebalance goes on from where its task is. kafkajs starts every
 * assigned partition again at the group's committed offset after a rejoin, kept ones too; a task whose records
 * wait for their commit (commit on the interval) is past that offset. Stage A commits its first transaction of
 * each partition (at most SUSPECT_RANGE_MAX_RECORDS records), then holds the rest of its input waiting (a 10 s
 * interval, a cap it does not reach; more records per partition than one fetch returns; every record in one
 * window, so no output at the partition's end commits it early) when B joins and
 * takes one of A's two partitions. New records are then written to both, and the group's committed offsets must
 * reach the end while both run. Before the fix, kafkajs handed A the first fetch of its kept partition's
 * already-waiting records again and again, unresolved, and the partition never moved again (found by the
 * second-core benchmark: a stream thread stalled for ten minutes after its sibling joined). Both then stop
 * cleanly and the run audits exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { freePort } from '../../scripts/stack/local-stack.js';
import { metrics } from '../../src/tools/workload.js';
import { eventually, scrape } from '../observability/scrape.js';
import { logLines } from '../support/private-broker.js';
import { committedOffsets } from '../support/kafka.js';
import { SUSPECT_RANGE_MAX_RECORDS } from '../../src/engine/attempt-policy.js';
import {
  createPipeline,
  loadInventory,
  produceWorkload,
  waitForDrain,
  waitForLog,
  type PipelineNames,
  type StageProcess,
} from '../support/pipeline.js';
import { assertNoViolations, auditScenario, START_MS } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const PARTITIONS = 2;
// A's second commit is due 10 s after its first records: B joins well before.
const SETTINGS = {
  COMMIT_INTERVAL_MS: '10000',
  COMMIT_MAX_RECORDS: '100000',
  TRANSACTION_TIMEOUT_MS: '100000',
  SESSION_TIMEOUT_MS: '6000',
  HEARTBEAT_INTERVAL_MS: '500',
};

async function pendingOf(port: number): Promise<Map<number, number>> {
  const samples = (await scrape(port)).all('eos_rollup_pending_records');
  return new Map(samples.map((s) => [Number(s.labels.partition), s.value]));
}

/** Input offsets the group has committed, summed over the partitions. */
async function committedOf(names: PipelineNames): Promise<number> {
  const offsets = await committedOffsets(suite.kafka, names.appId, names.input);
  return [...offsets.values()].reduce((sum, offset) => sum + Math.max(0, Number(offset)), 0);
}

function lastAssignment(stage: StageProcess, from: number): number[] | undefined {
  const lines = logLines(stage.output().slice(from), /^partitions assigned/);
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : (JSON.parse(last) as { partitions: number[] }).partitions;
}

test('a partition kept through a rebalance with records waiting past one fetch goes on to its new records', async () => {
  // 60,000 records of about 72 bytes: each partition holds about 2 MB, many of the stage's fetches of a partition
  // (MAX_PARTITION_FETCH_BYTES). All within 50 s of event time, the first window: none closes until the later
  // records come, so nothing the stage forwards makes it commit at the partition's end.
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const first = [...metrics({ hosts: 120, perHost: 500, startMs: START_MS, stepMs: 100, seed: 5 })];
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, first);
  const [portA, portB] = [await freePort(), await freePort()];
  const a = suite.start(names, { ...SETTINGS, INSTANCE_ID: 'a', METRICS_PORT: String(portA) });
  // About 3,600 of these records fill one fetch of a partition: A holds more than that of each, uncommitted.
  const held = await eventually('A holds over 15,000 records of each partition waiting', 60_000, async () => {
    if (a.child.exitCode !== null) throw new Error(`A exited:\n${a.output().slice(-2000)}`);
    const pending = await pendingOf(portA);
    return pending.size === PARTITIONS && [...pending.values()].every((n) => n > 15_000)
      ? pending
      : undefined;
  });
  // Only the small transactions before the first commit is behind committed: the first, and the one that filled
  // while it committed, each at most SUSPECT_RANGE_MAX_RECORDS records.
  const committedBefore = await committedOf(names);
  assert.ok(committedBefore <= PARTITIONS * 2 * SUSPECT_RANGE_MAX_RECORDS, `committed ${committedBefore}`);

  const fromA = a.output().length;
  const b = suite.start(names, { ...SETTINGS, INSTANCE_ID: 'b', METRICS_PORT: String(portB) });
  const kept = await eventually('A settles on one partition', 60_000, () => {
    const assigned = lastAssignment(a, fromA);
    return Promise.resolve(assigned?.length === 1 ? assigned[0] : undefined);
  });
  await waitForLog(b, /assignment settled/, 60_000);
  assert.ok((held.get(kept) ?? 0) > 15_000);
  assert.equal(await committedOf(names), committedBefore, 'A kept its records waiting through the rebalance');

  const later = [
    ...metrics({ hosts: 120, perHost: 5, startMs: START_MS + 7_200_000, stepMs: 2000, seed: 6 }),
  ];
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, later);
  // The judge: committed offsets (read by the harness through the admin API) at the input's end, both running.
  await waitForDrain(suite.kafka, names, 60_000, [a, b]);

  for (const stage of [a, b]) {
    const exit = await stage.stop('SIGTERM');
    assert.equal(exit.code, 0, stage.output().slice(-2000));
  }
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
