/**
 * Contract: a task whose commit fails on an idle partition recovers on its own. Here the idle flush that would
 * close the partition's only window fails (an injected fault). No record arrives afterwards, yet the task must
 * re-initialize, flush again and emit each window exactly once; before, it stayed uninitialized until the next
 * record, its windows open and its readiness down.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { metrics } from '../../src/tools/workload.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceWorkload,
  readRollups,
  waitForDrain,
} from '../support/pipeline.js';
import { committedOffsets } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const WINDOW_MS = 10_000;

test('an idle flush whose commit failed is retried without new input; every window is emitted exactly once', async () => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  // Five seconds of event time inside one window: no data commit closes a window, only the idle flush does.
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 5, perHost: 5, startMs, stepMs: 1000, seed: 5 })];
  await produceWorkload(suite.env, suite.kafka, names, 1, workload);
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '2000',
    IDLE_FLUSH_MS: '1000',
    EOS_ROLLUP_FAULT: 'at-window-close@1/p0:throw',
  });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  const committed = (await committedOffsets(suite.kafka, names.appId, names.input)).get(0);

  const expected = expectedWindows(workload, WINDOW_MS);
  const deadline = Date.now() + 60_000;
  let rollups = await readRollups(suite.kafka, names.output);
  while (rollups.length < expected.size && Date.now() < deadline) {
    await sleep(500);
    rollups = await readRollups(suite.kafka, names.output);
  }
  const log = stage.output();
  assert.match(log, /"point":"at-window-close"[^\n]*injecting fault/, 'the idle flush really failed');
  assert.match(log, /transaction failed while committing; rewinding/);
  assert.deepEqual(compareRollups(rollups, expected), [], 'each window emitted once, after the failed flush');
  await sleep(2500);
  assert.equal(
    (await readRollups(suite.kafka, names.output)).length,
    expected.size,
    'no window emitted twice',
  );
  assert.equal(
    (await committedOffsets(suite.kafka, names.appId, names.input)).get(0),
    committed,
    'no input was produced or consumed meanwhile',
  );
  assert.equal((await stage.stop()).code, 0);
});
