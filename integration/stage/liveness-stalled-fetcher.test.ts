/**
 * Contract: an idle flush advances stream time only when the task has consumed its partition up to the last
 * stable offset. A stalled fetcher is not an idle partition: records already in Kafka beyond the task's position
 * are never dead-lettered as late because wall-clock time passed while they could not be fetched.
 *
 * The stall is real: kafkajs's single fetcher waits for every batch of a fetch, and a batch that makes a
 * transaction due waits for the commit queued before it; so while a commit of partition 1 stalls (injected), its
 * next batch keeps partition 0's new records in Kafka, unfetched, for that long.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../scripts/stack/local-stack.js';
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
import { eventually, scrape } from '../observability/scrape.js';

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
  const [seed, trigger, blocked] = onPartition(1, all);
  assert.ok(first.length > 0 && second.length > 0 && seed && trigger && blocked, 'hosts on both partitions');

  await produceWorkload(suite.env, suite.kafka, names, 2, [...first, seed]);
  const port = await freePort();
  const stage = suite.start(names, {
    METRICS_PORT: String(port),
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '2000',
    IDLE_FLUSH_MS: '1000',
    // The fetcher may stall longer than the heartbeats would allow under the suite's 6 s session timeout.
    SESSION_TIMEOUT_MS: '60000',
    // Every record makes its transaction due, so the batch after the stalled one waits for that commit.
    COMMIT_MAX_RECORDS: '1',
    // Partition 1's second transaction: its first commits the seed record.
    EOS_ROLLUP_FAULT: `before-send@2/p1:stall${STALL_MS}`,
  });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);

  // Partition 0 goes quiet; partition 1's first batch stalls the fetcher; partition 0's next records are
  // written while it is stalled, well before partition 0 has been idle long enough to close its window.
  await produceWorkload(suite.env, suite.kafka, names, 2, [trigger]);
  await waitForLog(stage, /"point":"before-send"[^\n]*injecting fault/, 20_000);
  assert.match(stage.output(), /"point":"before-send"[^\n]*injecting fault/, 'the commit really stalled');
  await produceWorkload(suite.env, suite.kafka, names, 2, [blocked]);
  // The record waits for its commit, and its batch's handler for the stalled commit: the fetcher stalls.
  await eventually('partition 1 holds a record waiting behind the stalled commit', 20_000, async () =>
    (await scrape(port)).value('eos_rollup_pending_records', { partition: 1 }) === 1 ? true : undefined,
  );
  await produceWorkload(suite.env, suite.kafka, names, 2, second);

  await waitForDrain(suite.kafka, names, STALL_MS + 60_000, [stage]);
  const workload = [...first, ...second, seed, trigger, blocked];
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
