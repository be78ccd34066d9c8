/**
 * Contract: a restore runs while the group heartbeats. The partition is paused while its task initializes, so
 * kafkajs's fetch loop, which is also where it heartbeats, never waits for a restore. Here every restore is
 * slowed (injected) past the session timeout while the input holds records to fetch, and two instances share
 * the input: no member may be expelled for it (before, each restore cost its instance its membership, the
 * next rebalance started the restores again, and the group could livelock), and both make progress.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
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
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const SESSION_TIMEOUT_MS = 6000;
const RESTORE_STALL_MS = 9000;
const WINDOW_MS = 60_000;

/** `durationMs` of every "state restored" line of a stage's log. */
function restoreDurations(log: string): number[] {
  return [...log.matchAll(/"durationMs":(\d+)[^\n]*"msg":"state restored"/g)].map((m) => Number(m[1]));
}

test('restores longer than the session timeout neither expel a member nor stop either instance from progressing', async () => {
  const names = await createPipeline(suite.kafka, 2);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 10, perHost: 60, startMs, stepMs: 2000, seed: 3 })];
  const half = Math.floor(workload.length / 2);
  const settings = { WINDOW_MS: String(WINDOW_MS), SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) };

  // A first run leaves state in both changelog partitions.
  await produceWorkload(suite.env, suite.kafka, names, 2, workload.slice(0, half));
  const seeding = suite.start(names, { ...settings, INSTANCE_ID: 'seed' });
  await waitForDrain(suite.kafka, names, 60_000, [seeding]);
  assert.equal((await seeding.stop()).code, 0);

  // Records wait in the input while two instances restore, every restore slower than the session timeout.
  await produceWorkload(suite.env, suite.kafka, names, 2, workload.slice(half));
  const slowRestores = { ...settings, EOS_ROLLUP_FAULT: `during-restore@%100:stall${RESTORE_STALL_MS}` };
  const a = suite.start(names, { ...slowRestores, INSTANCE_ID: 'a' });
  const b = suite.start(names, { ...slowRestores, INSTANCE_ID: 'b' });
  await waitForDrain(suite.kafka, names, 180_000, [a, b]);
  await produceFlush(suite.env, suite.kafka, names, 2, startMs + 10 * WINDOW_MS);
  await waitForDrain(suite.kafka, names, 120_000, [a, b]);

  for (const [name, stage] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const log = stage.output();
    const durations = restoreDurations(log);
    assert.ok(durations.length > 0, `instance ${name} restored a partition`);
    assert.ok(
      durations.every((ms) => ms >= SESSION_TIMEOUT_MS),
      `instance ${name}: every restore outlasted the session timeout (${durations.join(', ')} ms)`,
    );
    assert.doesNotMatch(
      log,
      /not aware of this member/,
      `instance ${name} was never expelled from the group`,
    );
    assert.doesNotMatch(log, /consumer crashed/, `instance ${name}'s consumer never crashed`);
    assert.match(log, /"msg":"task initialized"/, `instance ${name} made progress`);
  }
  const rollups = await readRollups(suite.kafka, names.output);
  assert.deepEqual(compareRollups(rollups, expectedWindows(workload, WINDOW_MS)), []);
  assert.equal((await a.stop()).code, 0);
  assert.equal((await b.stop()).code, 0);
});
