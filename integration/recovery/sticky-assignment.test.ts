/**
 * Contract: a member joining a group moves only the partitions that must move. Two stages own three partitions
 * each; a third joins. kafkajs rebalances eagerly (every member rejoins), but with the sticky assigner each of
 * the first two keeps two of its three partitions and closes one task, so two partitions move in all and only
 * two restores happen. The negative control runs kafkajs's round robin (EOS_ROLLUP_BROKEN=round-robin-assignment),
 * which moves four of the six whatever the members own: the judge (task closes counted in the first two stages'
 * logs after the join) sees the difference. Each run drains and audits exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { logLines } from '../support/private-broker.js';
import { waitForDrain, waitForLog, type PipelineNames, type StageProcess } from '../support/pipeline.js';
import { assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const PARTITIONS = 6;
const SETTINGS = { SESSION_TIMEOUT_MS: '6000', HEARTBEAT_INTERVAL_MS: '500', COMMIT_MAX_RECORDS: '100' };

/** The partitions of the stage's latest `partitions assigned` line at or after `from` in its output. */
function assignedSince(stage: StageProcess, from: number): number[] | undefined {
  const lines = logLines(stage.output().slice(from), /^partitions assigned/);
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : (JSON.parse(last) as { partitions: number[] }).partitions;
}

async function settledOn(stage: StageProcess, from: number, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (assignedSince(stage, from)?.length !== count) {
    if (Date.now() > deadline)
      throw new Error(`no assignment of ${count} partitions:\n${stage.output().slice(-2000)}`);
    if (stage.child.exitCode !== null) throw new Error(`stage exited:\n${stage.output().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await waitForLog(stage, /assignment settled/, 30_000);
}

/** Task closes in the first two stages' logs once the third joined: the partitions that moved away from them. */
async function movedWhenThirdJoins(
  seed: number,
  extra: Record<string, string>,
): Promise<{ moved: number; names: PipelineNames }> {
  const { names } = await prepareScenario(suite, { partitions: PARTITIONS, hosts: 30, perHost: 40, seed });
  const a = suite.start(names, { ...SETTINGS, ...extra, INSTANCE_ID: 'a' });
  const b = suite.start(names, { ...SETTINGS, ...extra, INSTANCE_ID: 'b' });
  await Promise.all([settledOn(a, 0, 3), settledOn(b, 0, 3)]);
  await waitForDrain(suite.kafka, names, 120_000, [a, b]);
  const [fromA, fromB] = [a.output().length, b.output().length];
  const c = suite.start(names, { ...SETTINGS, ...extra, INSTANCE_ID: 'c' });
  await Promise.all([settledOn(a, fromA, 2), settledOn(b, fromB, 2), settledOn(c, 0, 2)]);
  const closed = (stage: StageProcess, from: number): number =>
    logLines(stage.output().slice(from), /^task closed/).length;
  const moved = closed(a, fromA) + closed(b, fromB);
  for (const stage of [a, b, c]) {
    const exit = await stage.stop('SIGTERM');
    assert.equal(exit.code, 0, stage.output().slice(-2000));
  }
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
  return { moved, names };
}

test('a third member joining moves two of six partitions with the sticky assigner; round robin moves four', async (t) => {
  const sticky = await movedWhenThirdJoins(61, {});
  const roundRobin = await movedWhenThirdJoins(62, { EOS_ROLLUP_BROKEN: 'round-robin-assignment' });
  t.diagnostic(`partitions moved by the join: sticky ${sticky.moved}, round robin ${roundRobin.moved}`);
  assert.equal(sticky.moved, 2, 'each of the first two members hands over one partition');
  assert.equal(roundRobin.moved, 4, 'negative control: round robin moves more than it must');
});
