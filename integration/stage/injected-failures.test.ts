/**
 * Contract: a failure injected at each step of the transaction (before send, after send, after sendOffsets,
 * before commit) aborts it, rolls state back and reprocesses; the exactly-once invariants still hold, and a
 * read_uncommitted read proves aborted records really reached the log.
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
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 2;
const suite = useStageSuite();

test('a failure at each transaction step aborts and reprocesses: invariants hold and aborted records exist', async () => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 40, perHost: 100, startMs, stepMs: 2000, seed: 3 })];
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);

  const faults = 'before-send@3:throw,after-send@6:throw,after-send-offsets@9:throw,before-commit@12:throw';
  const stage = suite.start(names, {
    EOS_ROLLUP_FAULT: faults,
    COMMIT_MAX_RECORDS: '200',
    RETRY_BACKOFF_INITIAL_MS: '10',
  });
  await waitForDrain(suite.kafka, names, 120_000, [stage]);

  const injected = stage.output().match(/"msg":"injecting fault"/g) ?? [];
  assert.equal(injected.length, 4, 'all four faults fired');
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );

  const committed = await readAll(suite.kafka, names.changelog);
  const raw = await readAll(suite.kafka, names.changelog, { readUncommitted: true });
  assert.ok(
    raw.records.length > committed.records.length,
    `aborted changelog records visible to read_uncommitted (${raw.records.length} > ${committed.records.length})`,
  );
  assert.deepEqual((await stage.stop()).code, 0);
});
