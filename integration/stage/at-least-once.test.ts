/**
 * Contract of PROCESSING_GUARANTEE=at_least_once (the benchmark's baseline for what transactions cost): the same
 * task code without transactions. With no failure it rolls up exactly like exactly_once, and writes no
 * transaction at all; after a crash between its sends and its offset commit it repeats what it had sent, and the
 * auditor sees it. That second test is why exactly_once is the default: the same crash under exactly_once
 * (F02) leaves nothing behind.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { readAll } from '../support/kafka.js';
import {
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const AT_LEAST_ONCE = { PROCESSING_GUARANTEE: 'at_least_once' };

test('at_least_once without failures rolls every window up exactly once and opens no transaction', async () => {
  const { names } = await prepareScenario(suite, { seed: 301 });
  const { exit, stage } = await runOnce(suite, names, AT_LEAST_ONCE);
  assert.deepEqual(exit, { code: 0, signal: null }, stage.output().slice(-2000));
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome, stage.output().slice(-2000));
  assert.ok(outcome.report.counts.rollups > 0, 'the stage wrote rollups');
  for (const topic of [names.output, names.changelog]) {
    const raw = await readAll(suite.kafka, topic, { readUncommitted: true });
    assert.ok(raw.records.length > 0, `${topic} has records`);
    // Written outside transactions: no commit marker takes an offset, so each partition's offsets are 0..n-1.
    const byPartition = new Map<number, bigint[]>();
    for (const r of raw.records)
      byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), BigInt(r.offset)]);
    for (const [partition, offsets] of byPartition) {
      assert.deepEqual(
        offsets.sort((a, b) => (a < b ? -1 : 1)),
        offsets.map((_, i) => BigInt(i)),
        `${topic}-${partition}: no transaction markers`,
      );
    }
  }
});

test('at_least_once killed after its sends, before its offset commit, repeats them: the auditor reports it', async () => {
  const { names } = await prepareScenario(suite, { seed: 302 });
  assertKilled(
    await runOnce(suite, names, { ...AT_LEAST_ONCE, EOS_ROLLUP_FAULT: 'after-send-offsets@3:kill' }),
    'after-send-offsets@3:kill',
  );
  assert.equal((await runOnce(suite, names, AT_LEAST_ONCE)).exit.code, 0, 'a clean stage drains the input');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assert.ok(
    outcome.report.violations.some((v) => v.kind === 'input-covered-twice' || v.kind === 'rollup-duplicated'),
    `the repeated sends are visible to read_committed readers: ${JSON.stringify(outcome.report.violations.map((v) => v.kind))}`,
  );
});
