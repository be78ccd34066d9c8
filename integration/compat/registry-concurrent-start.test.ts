/**
 * Contract: replicas of a fresh application started at the same instant all come up. Each one registers the
 * output schema and sets its subject's compatibility at start; against the real registry those calls race, and
 * the loser of a race must re-read what the winner wrote and accept it instead of exiting.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createPipeline, loadInventory, type StageProcess } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();

const REPLICAS = 3;
const UP_WITHIN_MS = 25_000;
const RUNNING = '"msg":"stage running"';

function exitedEarly(stage: StageProcess): boolean {
  return stage.child.exitCode !== null || stage.child.signalCode !== null;
}

test(`${REPLICAS} replicas started at once on a fresh application and subject are all running within ${UP_WITHIN_MS / 1000} s`, async () => {
  const names = await createPipeline(suite.kafka, REPLICAS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  // Spawned in one synchronous loop, so the registrations race as closely as separate processes allow.
  const stages = Array.from({ length: REPLICAS }, (_, i) =>
    suite.start(names, { INSTANCE_ID: `replica-${i}` }),
  );
  const deadline = Date.now() + UP_WITHIN_MS;
  while (Date.now() < deadline) {
    if (stages.every((s) => s.output().includes(RUNNING)) || stages.some(exitedEarly)) break;
    await sleep(100);
  }
  const problems = stages.flatMap((stage, i) => {
    if (stage.output().includes(RUNNING) && !exitedEarly(stage)) return [];
    const state = exitedEarly(stage)
      ? `exited (${stage.child.exitCode ?? stage.child.signalCode})`
      : 'not running yet';
    const lastLines = stage.output().trim().split('\n').slice(-3).join('\n');
    return [`replica-${i} ${state}:\n${lastLines}`];
  });
  assert.deepEqual(problems, [], problems.join('\n\n'));
  await Promise.all(stages.map((s) => s.stop('SIGTERM')));
});
