/**
 * Contract: COMMIT_INTERVAL_MS paces transactions. The same input, trickled in at the same pace while the stage
 * runs, is committed in clearly fewer transactions at 1000 ms than at 100 ms, and exactly once both times.
 * Transactions are counted as the distinct lineage attempts read_committed on the changelog: every transaction
 * that changes state writes changelog deltas stamped with its attempt id.
 *
 * And output waiting at the input partition's end is committed at once rather than after the interval, also
 * when an upstream producer's open transaction keeps the high watermark ahead of what read_committed can read.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import { metrics } from '../../src/tools/workload.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { readAll, uniqueName } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  produceFlush,
  produceWorkload,
  workloadWriter,
  readRollups,
  waitForDrain,
  waitForLog,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 1;
const WINDOW_MS = 60_000;
const STEPS = 40;
const PAUSE_MS = 100;
const suite = useStageSuite();

async function transactionsAt(commitIntervalMs: number): Promise<number> {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 10, perHost: 200, startMs, stepMs: 1000, seed: 11 })].sort(
    (a, b) => a.timestamp - b.timestamp,
  );
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '10000',
    COMMIT_INTERVAL_MS: String(commitIntervalMs),
  });
  await waitForLog(stage, /task initialized/, 60_000);
  // A live trickle: a preloaded backlog is fetched in batches of MAX_PARTITION_FETCH_BYTES, whatever the interval.
  const perStep = Math.ceil(workload.length / STEPS);
  const writer = await workloadWriter(suite.env, suite.kafka, names, PARTITIONS);
  try {
    for (let i = 0; i < workload.length; i += perStep) {
      await writer.write(workload.slice(i, i + perStep));
      await sleep(PAUSE_MS);
    }
  } finally {
    await writer.close();
  }
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  await waitForDrain(suite.kafka, names, 120_000, [stage]);
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

test('the same trickled input commits in clearly fewer transactions at COMMIT_INTERVAL_MS=1000 than at 100', async (t) => {
  const at100 = await transactionsAt(100);
  const at1000 = await transactionsAt(1000);
  t.diagnostic(`transactions: ${at100} at 100 ms, ${at1000} at 1000 ms`);
  assert.ok(at100 >= 10, `at 100 ms the trickle is committed in many transactions (${at100})`);
  // About 40 steps of 100 ms against about 6 s: a factor of 5 on a quiet machine, kept at 2 for a loaded one.
  assert.ok(at1000 * 2 <= at100, `at 1000 ms: ${at1000} transactions, at 100 ms: ${at100}`);
});

test('output waiting at the partition’s end commits at once behind an upstream transaction left open, not after COMMIT_INTERVAL_MS', async (t) => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 5, perHost: 30, startMs, stepMs: 2000, seed: 12 })];
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload);
  const intervalMs = 20_000;
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '10000',
    COMMIT_INTERVAL_MS: String(intervalMs),
    TRANSACTION_TIMEOUT_MS: String(10 * intervalMs),
  });
  // The first records wait for their schemas from the registry and are committed at the interval; from then on
  // records are processed as they join, which is when output waiting at the end can be committed at once.
  await waitForDrain(suite.kafka, names, 90_000, [stage]);

  const upstream = suite.kafka.producer({
    transactionalId: uniqueName('upstream-open'),
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 10 * intervalMs,
  });
  await upstream.connect();
  const open = await upstream.transaction();
  try {
    // Both records below must be in the log before the stage fetches the first: it is held (SIGSTOP, shorter
    // than its session) until then, past its fetch wait, so the fetch it has open is answered empty meanwhile.
    stage.child.kill('SIGSTOP');
    await sleep(1500);
    // Every window closes: its rollups wait in the stage's transaction at the end of what it can read.
    await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
    // Then an upstream producer's transaction, opened and never ended during the test: the high watermark runs
    // ahead of the last stable offset, which a read_committed reader cannot pass.
    await open.send({
      topic: names.input,
      messages: [{ partition: 0, value: Buffer.from('never committed') }],
    });
    const [committed, uncommitted] = await Promise.all([
      partitionRanges(suite.kafka, names.input, 'read_committed'),
      partitionRanges(suite.kafka, names.input, 'read_uncommitted'),
    ]);
    assert.ok(
      (uncommitted.get(0)?.end ?? 0n) > (committed.get(0)?.end ?? 0n),
      'the transaction is open: the high watermark is past the last stable offset',
    );
    const releasedAt = Date.now();
    stage.child.kill('SIGCONT');

    const expected = expectedWindows(workload, WINDOW_MS);
    let mismatch = compareRollups([], expected);
    // Less than half the interval, and far less than the upstream transaction's timeout: a stage that compared
    // its batches with the high watermark would show nothing before its interval ends.
    while (mismatch.length > 0 && Date.now() - releasedAt < intervalMs / 2.5) {
      await sleep(250);
      mismatch = compareRollups(await readRollups(suite.kafka, names.output), expected);
    }
    assert.deepEqual(
      mismatch,
      [],
      `every rollup visible within ${intervalMs / 2.5} ms:\n${stage.output().slice(-3000)}`,
    );
    t.diagnostic(
      `every rollup visible ${Date.now() - releasedAt} ms after the stage was let go (interval ${intervalMs} ms)`,
    );
    const exit = await stage.stop('SIGTERM');
    assert.equal(exit.code, 0, stage.output().slice(-2000));
  } finally {
    await open.abort();
    await upstream.disconnect();
  }
});
