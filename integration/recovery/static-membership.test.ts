/**
 * Static group membership of the input consumer. A stage killed by SIGKILL and restarted at once under the same
 * INSTANCE_ID takes its partitions back without waiting for the dead member's session to expire; a dynamic member
 * cannot (the negative control: the group rebalances only once the session has expired). Two processes sharing
 * one INSTANCE_ID: the broker fences one, which stops with a line naming the id. Every run is audited exactly
 * once, the static members' transactional offset commits included.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ServerMetric } from '../../src/domain/metric.js';
import { metrics } from '../../src/tools/workload.js';
import { committedOffsets } from '../support/kafka.js';
import {
  createPipeline,
  loadInventory,
  produceFlush,
  produceWorkload,
  waitForDrain,
  type PipelineNames,
  type StageProcess,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { START_MS, assertNoViolations, auditScenario } from '../support/scenario.js';

const suite = useStageSuite();
const PARTITIONS = 2;
// Short enough to keep the file quick; every assertion on time is relative to it.
const SESSION_TIMEOUT_MS = 10_000;
const SETTINGS = {
  COMMIT_MAX_RECORDS: '50',
  SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
  HEARTBEAT_INTERVAL_MS: '1000',
};
const STATIC = { ...SETTINGS, INSTANCE_ID: 'a', STATIC_MEMBERSHIP: 'true' };

/** Records in event-time order, produced a chunk at a time while the test kills and restarts stages. */
class Feeder {
  private stopped = false;
  readonly done: Promise<void>;

  constructor(names: PipelineNames, workload: readonly ServerMetric[], chunk: number, everyMs: number) {
    this.done = (async () => {
      for (let i = 0; i < workload.length && !this.stopped; i += chunk) {
        await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, workload.slice(i, i + chunk));
        await sleep(everyMs);
      }
    })();
  }

  async finish(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

async function pipelineWithFeeder(seed: number): Promise<{ names: PipelineNames; feeder: Feeder }> {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const workload = [...metrics({ hosts: 20, perHost: 400, startMs: START_MS, stepMs: 2000, seed })].sort(
    (a, b) => a.timestamp - b.timestamp,
  );
  // 100 records span five time steps of all 20 hosts, so every chunk reaches both partitions.
  return { names, feeder: new Feeder(names, workload, 100, 250) };
}

async function offsets(names: PipelineNames): Promise<bigint[]> {
  const committed = await committedOffsets(suite.kafka, names.appId, names.input);
  return Array.from({ length: PARTITIONS }, (_, p) => BigInt(committed.get(p) ?? '-1'));
}

/** Milliseconds from `sinceMs` until every partition's committed offset passed `baseline`. */
async function progressOnEveryPartition(
  names: PipelineNames,
  baseline: readonly bigint[],
  sinceMs: number,
  stage: StageProcess,
): Promise<number> {
  const deadline = sinceMs + 4 * SESSION_TIMEOUT_MS;
  for (;;) {
    const now = await offsets(names);
    if (now.every((offset, p) => offset > (baseline[p] ?? -1n))) return Date.now() - sinceMs;
    assert.equal(stage.child.exitCode, null, `the stage exited:\n${stage.output().slice(-3000)}`);
    assert.ok(Date.now() < deadline, `no progress on every partition: ${now.join(', ')}`);
    await sleep(100);
  }
}

async function finishAndAudit(names: PipelineNames, feeder: Feeder, survivor: StageProcess): Promise<void> {
  await feeder.finish();
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, START_MS + 3_600_000);
  await waitForDrain(suite.kafka, names, 180_000, [survivor]);
  assert.equal((await survivor.stop('SIGTERM')).code, 0, 'the surviving stage stops cleanly');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
}

/** Starts a stage, lets it commit, SIGKILLs it and starts it again at once: ms from restart to progress. */
async function killAndRestart(env: Record<string, string>, seed: number): Promise<number> {
  const { names, feeder } = await pipelineWithFeeder(seed);
  const first = suite.start(names, env);
  await progressOnEveryPartition(names, [-1n, -1n], Date.now(), first);
  const exit = await first.stop('SIGKILL');
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, 'the first stage really died by SIGKILL');
  // Lets a commit whose EndTxn left before the kill land, so it is not mistaken for the restarted stage's.
  await sleep(300);
  const baseline = await offsets(names);
  const restartedAt = Date.now();
  const second = suite.start(names, env);
  const elapsedMs = await progressOnEveryPartition(names, baseline, restartedAt, second);
  await finishAndAudit(names, feeder, second);
  return elapsedMs;
}

test('a static member SIGKILLed and restarted at once takes its partitions back before its session expires', async (t) => {
  const elapsedMs = await killAndRestart(STATIC, 41);
  t.diagnostic(`static: restart to committed progress on every partition ${elapsedMs} ms`);
  assert.ok(
    elapsedMs < SESSION_TIMEOUT_MS,
    `progress after ${elapsedMs} ms, not within the session timeout (${SESSION_TIMEOUT_MS} ms)`,
  );
});

test('negative control: a dynamic member restarted at once waits for the dead session to expire', async (t) => {
  const elapsedMs = await killAndRestart(SETTINGS, 42);
  t.diagnostic(`dynamic: restart to committed progress on every partition ${elapsedMs} ms`);
  assert.ok(
    elapsedMs >= 0.8 * SESSION_TIMEOUT_MS,
    `progress after ${elapsedMs} ms, before the dead member's session (${SESSION_TIMEOUT_MS} ms) could expire`,
  );
});

test('two processes with the same INSTANCE_ID: one stops within seconds naming the id; nothing lost or duplicated', async (t) => {
  const { names, feeder } = await pipelineWithFeeder(43);
  const first = suite.start(names, STATIC);
  await progressOnEveryPartition(names, [-1n, -1n], Date.now(), first);
  const secondAt = Date.now();
  const second = suite.start(names, STATIC);
  const ended = await Promise.race([
    first.exited.then((exit) => ({ stage: first, survivor: second, exit })),
    second.exited.then((exit) => ({ stage: second, survivor: first, exit })),
    sleep(4 * SESSION_TIMEOUT_MS).then(() => undefined),
  ]);
  assert.ok(ended !== undefined, 'neither process stopped');
  t.diagnostic(
    `${ended.stage === first ? 'first' : 'second'} process stopped ${Date.now() - secondAt} ms after the second started`,
  );
  assert.notEqual(ended.exit.code, 0, 'the fenced process reports failure');
  assert.match(ended.stage.output(), /two processes share INSTANCE_ID a\b/);
  assert.equal(ended.survivor.child.exitCode, null, 'the other process keeps running');
  await finishAndAudit(names, feeder, ended.survivor);
});
