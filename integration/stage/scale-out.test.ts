/**
 * Contract: two and then three instances in one group while records flow: partitions spread across them,
 * rebalances happen mid-stream, and every (host, window) still gets exactly one correct rollup.
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
  produceFlush,
  produceWorkload,
  readRollups,
  waitForDrain,
  waitForLog,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 6;
const suite = useStageSuite();

test('two then three instances share the partitions while records flow; invariants hold', async () => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 120, perHost: 120, startMs, stepMs: 2000, seed: 5 })];
  const slices = 6;
  const sliceSize = Math.ceil(workload.length / slices);
  const settings = { COMMIT_MAX_RECORDS: '200' };

  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload.slice(0, sliceSize));
  suite.start(names, { ...settings, INSTANCE_ID: 'one' });
  for (let i = 1; i < slices; i++) {
    if (i === 2 || i === 4) {
      const joined = suite.start(names, { ...settings, INSTANCE_ID: i === 2 ? 'two' : 'three' });
      // Mid-stream: the newcomer owns partitions before the next slice is written, however slow its start.
      await waitForLog(joined, /"partitions":\[\d[\d,]*\],"msg":"partitions assigned"/, 60_000);
    }
    await produceWorkload(
      suite.env,
      suite.kafka,
      names,
      PARTITIONS,
      workload.slice(i * sliceSize, (i + 1) * sliceSize),
    );
    await sleep(700);
  }
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  await waitForDrain(suite.kafka, names, 120_000, suite.stages);

  const assigned = suite.stages.map(
    (s) =>
      [...s.output().matchAll(/"partitions":\[([\d,]*)\],"msg":"partitions assigned"/g)].pop()?.[1] ?? '',
  );
  assert.ok(
    assigned.every((p) => p.length > 0),
    `every instance owns partitions at the end: ${JSON.stringify(assigned)}`,
  );
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );
  for (const stage of suite.stages) assert.equal((await stage.stop()).code, 0, stage.output().slice(-1500));
});
