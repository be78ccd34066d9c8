/**
 * Contract: a stage stopped by SIGTERM exits 0 and a stage killed by SIGKILL inside a transaction loses
 * nothing; the next instance restores window state from the changelog, so windows that span the restart are
 * still counted exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { metrics } from '../../src/tools/workload.js';
import { readAll } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceFlush,
  produceWorkload,
  readRollups,
  waitForDrain,
} from '../support/pipeline.js';
import { assertNoViolations, auditScenario } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 3;
const suite = useStageSuite();

async function twoHalves(seed: number) {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 60, perHost: 100, startMs, stepMs: 1500, seed })];
  // Cut in the middle of a window, so open windows must come back from the changelog.
  const cut = workload.findIndex((m) => m.timestamp >= startMs + 75_000 + 30_000);
  return { names, startMs, workload, first: workload.slice(0, cut), second: workload.slice(cut) };
}

test('SIGTERM stops cleanly (exit 0); the restarted stage restores state, windows spanning the restart are exact, and attempt ids never repeat though the instance id does', async () => {
  const { names, startMs, workload, first, second } = await twoHalves(21);
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, first);
  // A pod restarted in place: the same instance id (and, in a container, the same pid) twice.
  const pod = { INSTANCE_ID: 'pod-0' };
  const one = suite.start(names, pod);
  await waitForDrain(suite.kafka, names, 60_000, [one]);
  assert.deepEqual(await one.stop('SIGTERM'), { code: 0, signal: null }, one.output().slice(-2000));

  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, second);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  const two = suite.start(names, pod);
  await waitForDrain(suite.kafka, names, 60_000, [two]);
  assert.match(two.output(), /"msg":"state restored"/);
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );
  // Each run's first transaction on a partition had the same task serial and counter: only the run token
  // keeps the lineage check from reading two runs as one torn transaction.
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
  assert.equal((await two.stop()).code, 0);
});

test('SIGKILL inside a transaction (after sendOffsets, before commit) loses and duplicates nothing after restart', async () => {
  const { names, startMs, workload } = await twoHalves(22);
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  const victim = suite.start(names, {
    COMMIT_MAX_RECORDS: '100',
    EOS_ROLLUP_FAULT: 'after-send-offsets@15:kill',
  });
  const exit = await victim.exited;
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, 'the stage really died by SIGKILL');

  const successor = suite.start(names, { COMMIT_MAX_RECORDS: '100' });
  await waitForDrain(suite.kafka, names, 90_000, [successor]);
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );
  const committed = await readAll(suite.kafka, names.changelog);
  const raw = await readAll(suite.kafka, names.changelog, { readUncommitted: true });
  assert.ok(
    raw.records.length > committed.records.length,
    'the killed transaction was aborted, not committed',
  );
  assert.equal((await successor.stop()).code, 0);
});
