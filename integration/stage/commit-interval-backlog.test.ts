/**
 * Contract: a task's transaction spans the fetched batches of its commit interval. The same input, already in
 * Kafka when the stage starts (a drained backlog, fetched about a megabyte at a time), is committed exactly once
 * in fewer transactions at COMMIT_INTERVAL_MS=1000 than at 100; with one transaction per fetched batch the two
 * counts were equal (22 and 22 for these 300,000 records). COMMIT_MAX_RECORDS is raised so the record cap does
 * not end the transactions. Transactions are counted as the distinct lineage attempts on the changelog, read
 * read_committed.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import { metrics } from '../../src/tools/workload.js';
import { readAll } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  produceFlush,
  produceWorkload,
  readRollups,
  waitForDrain,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 1;
const WINDOW_MS = 60_000;
const STEPS = 40;
const suite = useStageSuite();

async function transactionsAt(commitIntervalMs: number): Promise<number> {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 300, perHost: 1000, startMs, stepMs: 1000, seed: 11 })].sort(
    (a, b) => a.timestamp - b.timestamp,
  );
  // Produced in many requests, as a live feed leaves the log: many record batches, not one.
  const perStep = Math.ceil(workload.length / STEPS);
  for (let i = 0; i < workload.length; i += perStep)
    await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload.slice(i, i + perStep));
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '10000',
    COMMIT_INTERVAL_MS: String(commitIntervalMs),
    COMMIT_MAX_RECORDS: '100000',
  });
  await waitForDrain(suite.kafka, names, 300_000, [stage]);
  const exit = await stage.stop('SIGTERM');
  assert.equal(exit.code, 0, stage.output().slice(-2000));

  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, WINDOW_MS)),
    [],
  );
  const changelog = await readAll(suite.kafka, names.changelog);
  assert.ok(changelog.complete, 'the changelog was read to its end');
  const attempts = new Set(changelog.records.map((r) => String(r.headers?.[LINEAGE_HEADERS.attempt])));
  return attempts.size;
}

test('the same drained backlog commits in fewer transactions at COMMIT_INTERVAL_MS=1000 than at 100', async (t) => {
  const at100 = await transactionsAt(100);
  const at1000 = await transactionsAt(1000);
  t.diagnostic(`transactions: ${at100} at 100 ms, ${at1000} at 1000 ms`);
  assert.ok(at1000 < at100, `at 1000 ms: ${at1000} transactions, at 100 ms: ${at100}`);
});
