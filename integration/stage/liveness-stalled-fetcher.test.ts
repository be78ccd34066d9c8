/**
 * Contract: an idle flush advances stream time only when the task has consumed its partition up to the last
 * stable offset. A stalled fetcher is not an idle partition: records already in Kafka beyond the task's position
 * are never dead-lettered as late because wall-clock time passed while they could not be fetched.
 *
 * The stall is real: kafkajs's single fetcher waits for every batch of a fetch, so a task of partition 1 that
 * stalls while handling its batch (injected) keeps partition 0's new records in Kafka, unfetched, for that long.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerMetric } from '../../src/domain/metric.js';
import { metrics } from '../../src/tools/workload.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceWorkload,
  readRollups,
  waitForDrain,
  waitForLog,
} from '../support/pipeline.js';
import { producerPartitionOf, readAll } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const WINDOW_MS = 20_000;
const STALL_MS = 35_000;

test('records in Kafka beyond a stalled task position are never dead-lettered as late by an idle flush', async () => {
  const names = await createPipeline(suite.kafka, 2);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const partitionOf = producerPartitionOf(2);
  const onPartition = (p: number, list: ServerMetric[]) =>
    list.filter((m) => partitionOf(Buffer.from(m.host)) === p);
  // Everything lies in the window [start, start + 20 s): only an idle flush can close it.
  const all = [...metrics({ hosts: 12, perHost: 9, startMs, stepMs: 1000, seed: 7 })];
  const first = onPartition(0, all).filter((m) => m.timestamp < startMs + 3000);
  const second = onPartition(0, all).filter((m) => m.timestamp >= startMs + 3000);
  const [seed, trigger] = onPartition(1, all);
  assert.ok(first.length > 0 && second.length > 0 && seed && trigger, 'hosts on both partitions');

  await produceWorkload(suite.env, suite.kafka, names, 2, [...first, seed]);
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '2000',
    IDLE_FLUSH_MS: '1000',
    // The fetcher may stall longer than the heartbeats would allow under the suite's 6 s session timeout.
    SESSION_TIMEOUT_MS: '60000',
    // A full transaction is committed by the batch handler itself, so the stalled commit stalls the fetcher;
    // a commit on the interval's timer would leave the fetcher running.
    COMMIT_MAX_RECORDS: '1',
    // Partition 1's second transaction: its first commits the seed record.
    EOS_ROLLUP_FAULT: `before-send@2/p1:stall${STALL_MS}`,
  });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);

  // Partition 0 goes quiet; partition 1's first batch stalls the fetcher; partition 0's next records are
  // written while it is stalled, well before partition 0 has been idle long enough to close its window.
  await produceWorkload(suite.env, suite.kafka, names, 2, [trigger]);
  await waitForLog(stage, /"point":"before-send"[^\n]*injecting fault/, 20_000);
  assert.match(stage.output(), /"point":"before-send"[^\n]*injecting fault/, 'the fetcher really stalled');
  await produceWorkload(suite.env, suite.kafka, names, 2, second);

  await waitForDrain(suite.kafka, names, STALL_MS + 60_000, [stage]);
  const workload = [...first, ...second, seed, trigger];
  const expected = expectedWindows(workload, WINDOW_MS);
  const deadline = Date.now() + 60_000;
  let rollups = await readRollups(suite.kafka, names.output);
  while (rollups.length < expected.size && Date.now() < deadline) {
    await sleep(500);
    rollups = await readRollups(suite.kafka, names.output);
  }
  const { records: deadLetters } = await readAll(suite.kafka, names.dlq);
  const reasons = deadLetters.map((r) => String(r.headers?.['eos-rollup.dlq.reason']));
  assert.deepEqual(reasons, [], 'no record dead-lettered (before: every stalled record as late)');
  assert.deepEqual(compareRollups(rollups, expected), [], 'every record counted in its window, once');
  assert.match(
    stage.output(),
    /idle flush skipped: records up to the last stable offset are not consumed yet/,
  );
  assert.equal((await stage.stop()).code, 0);
});
