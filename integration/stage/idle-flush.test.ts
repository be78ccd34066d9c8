/**
 * Contract: with IDLE_FLUSH_MS set, a partition that stops receiving records still closes its last windows:
 * stream time advances by the idle wall-clock time (committed like any state change), and each of those windows
 * is emitted exactly once. Without it they would stay open until the next record.
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
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const WINDOW_MS = 10_000;

test('an idle partition closes its last windows after IDLE_FLUSH_MS, each exactly once', async () => {
  const names = await createPipeline(suite.kafka, 2);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 20, perHost: 30, startMs, stepMs: 1000, seed: 9 })];
  await produceWorkload(suite.env, suite.kafka, names, 2, workload);
  const stage = suite.start(names, { WINDOW_MS: String(WINDOW_MS), GRACE_MS: '2000', IDLE_FLUSH_MS: '1000' });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);

  const expected = expectedWindows(workload, WINDOW_MS);
  const deadline = Date.now() + 30_000;
  let rollups = await readRollups(suite.kafka, names.output);
  while (rollups.length < expected.size && Date.now() < deadline) {
    await sleep(500);
    rollups = await readRollups(suite.kafka, names.output);
  }
  assert.deepEqual(compareRollups(rollups, expected), []);
  assert.match(stage.output(), /idle: advancing stream time to close windows/);
  await sleep(2500);
  assert.equal(
    (await readRollups(suite.kafka, names.output)).length,
    expected.size,
    'no window emitted twice',
  );
  assert.equal((await stage.stop()).code, 0);
});
