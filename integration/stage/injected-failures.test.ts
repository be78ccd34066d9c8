/**
 * Contract: a failure injected at each step of the transaction (before send, after send, after sendOffsets,
 * before commit) aborts it, rolls state back and reprocesses; the exactly-once invariants still hold, and a
 * read_uncommitted read proves aborted records really reached the log.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { metrics } from '../../src/tools/workload.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { readAll, testKafka } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceFlush,
  produceWorkload,
  readRollups,
  startStage,
  waitForDrain,
  type StageProcess,
} from '../support/pipeline.js';

const PARTITIONS = 2;
let env: TestEnvironment;
let kafka: Kafka;
const stages: StageProcess[] = [];

before(async () => {
  env = await testEnvironment();
  kafka = testKafka(env);
});
after(async () => {
  await Promise.all(stages.map((s) => s.stop('SIGKILL')));
});

test('a failure at each transaction step aborts and reprocesses: invariants hold and aborted records exist', async () => {
  const names = await createPipeline(kafka, PARTITIONS);
  await loadInventory(env, kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 40, perHost: 100, startMs, stepMs: 2000, seed: 3 })];
  await produceWorkload(env, kafka, names, PARTITIONS, workload);
  await produceFlush(env, kafka, names, PARTITIONS, startMs + 3_600_000);

  const faults = 'before-send@3:throw,after-send@6:throw,after-send-offsets@9:throw,before-commit@12:throw';
  const stage = startStage(env, names, {
    EOS_ROLLUP_FAULT: faults,
    COMMIT_MAX_RECORDS: '200',
    RETRY_BACKOFF_INITIAL_MS: '10',
  });
  stages.push(stage);
  await waitForDrain(kafka, names, 120_000, [stage]);

  const injected = stage.output().match(/"msg":"injecting fault"/g) ?? [];
  assert.equal(injected.length, 4, 'all four faults fired');
  assert.deepEqual(
    compareRollups(await readRollups(kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );

  const committed = await readAll(kafka, names.changelog);
  const raw = await readAll(kafka, names.changelog, { readUncommitted: true });
  assert.ok(
    raw.records.length > committed.records.length,
    `aborted changelog records visible to read_uncommitted (${raw.records.length} > ${committed.records.length})`,
  );
  assert.deepEqual((await stage.stop()).code, 0);
});
