/**
 * F25 — deaths that are not a record's doing must never give a valid record up. Five processes in a row are
 * SIGKILLed at their first commit (an orchestrator's kill, at the worst moment: after the records were
 * processed, before the transaction landed), all at the same committed offset; then a clean process drains the
 * input. The crash-loop guard suspects offset 0 and processes it alone, but takes each attempt back once the
 * record was processed, so no kill counts as its crash: offset 0 ends up counted in its rollup, not in the DLQ.
 *
 * The judge computes what the rollups must be from the test's own input (plain grouping), and reads the DLQ.
 * Its negative control runs a test-only variant that never takes an attempt back (as every release path that
 * skipped it did), with dead-lettering opted in: the same kills then dead-letter offset 0, and the judge says so.
 * The exits that skip a clean close (the shutdown timeout, a second signal) must take their attempt back first.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { CRASHES_BEFORE_ISOLATION, MAX_PROCESSING_ATTEMPTS } from '../../src/engine/attempt-policy.js';
import { KafkajsAttemptJournal, processingAttemptsTopic } from '../../src/kafka/stage/attempt-journal.js';
import { committedOffsets } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import { readAll, uniqueName } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  metricEncoder,
  produceFlush,
  readRollups,
  waitForLog,
  type PipelineNames,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import {
  FAULT_SETTINGS,
  START_MS,
  WINDOWS,
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';

const suite = useStageSuite();
/** As many deaths as give a record up when none is taken back: the negative control's dead letter needs them all. */
const KILLS = CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS;
const KILL_AT_FIRST_COMMIT = 'before-commit@1:kill';

/** What a read_committed consumer sees that contradicts the input: empty when offset 0 was counted exactly once. */
async function judge(names: PipelineNames, workload: ServerMetric[]): Promise<string[]> {
  const problems: string[] = [];
  const dlq = await readAll(suite.kafka, names.dlq);
  for (const r of dlq.records) {
    const offset = r.headers?.[DLQ_HEADERS.offset]?.toString();
    const reason = r.headers?.[DLQ_HEADERS.reason]?.toString();
    problems.push(`valid record at offset ${offset} dead-lettered (${reason})`);
  }
  // One partition: offset 0 is the workload's first record.
  const first = workload[0];
  assert.ok(first);
  const flushes = ['flush-0'];
  const rollups = (await readRollups(suite.kafka, names.output)).filter((r) => !flushes.includes(r.host));
  const expected = expectedWindows(workload, WINDOWS.sizeMs);
  const windowOfFirst = `${first.host}@${Math.floor(first.timestamp / WINDOWS.sizeMs) * WINDOWS.sizeMs}`;
  const ofFirst = (p: string) => p.startsWith(`${windowOfFirst}:`) || p === `missing rollup ${windowOfFirst}`;
  const mismatches = compareRollups(rollups, expected);
  problems.push(...mismatches.filter(ofFirst).map((p) => `offset 0's window: ${p}`));
  problems.push(...mismatches.filter((p) => !ofFirst(p)));
  return problems;
}

async function killAtFirstCommitThenDrain(
  env: Record<string, string>,
  seed: number,
): Promise<{ names: PipelineNames; workload: ServerMetric[] }> {
  const { names, workload } = await prepareScenario(suite, { partitions: 1, hosts: 8, perHost: 25, seed });
  for (let kill = 1; kill <= KILLS; kill += 1) {
    const result = await runOnce(suite, names, { ...env, EOS_ROLLUP_FAULT: KILL_AT_FIRST_COMMIT });
    assertKilled(result, `kill ${kill} at the first commit`);
  }
  const clean = await runOnce(suite, names, env);
  assert.equal(clean.exit.code, 0, `a clean stage drains the input:\n${clean.stage.output().slice(-2000)}`);
  return { names, workload };
}

test('F25: five SIGKILLs at the first commit, then a clean run: offset 0 is counted in its rollup and is not in the DLQ', async (t) => {
  const { names, workload } = await killAtFirstCommitThenDrain({}, 251);
  const problems = await judge(names, workload);
  assert.deepEqual(
    problems,
    [],
    'offset 0 and every other record counted exactly once, nothing dead-lettered',
  );
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 0);
  assert.ok(outcome.abortedRecords > 0, 'read_uncommitted sees the killed transactions’ records');
  t.diagnostic(
    `${KILLS} SIGKILLs; ${outcome.abortedRecords} aborted records; ${workload.length} records counted`,
  );
});

test('F25 negative control: without the take-back (a skipped release path), the same kills dead-letter offset 0 and the judge catches it', async (t) => {
  const { names, workload } = await killAtFirstCommitThenDrain(
    { EOS_ROLLUP_BROKEN: 'no-attempt-release', ON_PROCESS_CRASH: 'dead-letter' },
    252,
  );
  const problems = await judge(names, workload);
  t.diagnostic(problems.join('\n'));
  assert.ok(
    problems.includes('valid record at offset 0 dead-lettered (processing-failed)'),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith("offset 0's window:")),
    'and its window is short of it',
  );
});

async function standingAttempt(names: PipelineNames): Promise<string> {
  const journal = new KafkajsAttemptJournal(
    suite.kafka,
    processingAttemptsTopic(names.appId),
    names.input,
    'f25-test',
  );
  try {
    const current = await journal.read(0);
    return current
      ? `offset ${current.entry.offset}, ${current.entry.attempts} attempt(s)${current.entry.isolated ? ' alone' : ''}`
      : 'none';
  } finally {
    await journal.close();
  }
}

test('F25: the shutdown-timeout exit and a second signal take the attempt back before exiting: no crash is counted', async () => {
  const { names, workload } = await prepareScenario(suite, {
    partitions: 1,
    hosts: 8,
    perHost: 25,
    seed: 253,
  });
  const exits: [string, 1 | 2, number][] = [
    ['the shutdown timeout', 1, 1],
    ['a second signal', 2, 130],
  ];
  for (const [how, signals, code] of exits) {
    // The first transaction hangs before its commit, so a clean stop cannot finish.
    const stage = suite.start(names, {
      ...FAULT_SETTINGS,
      EOS_ROLLUP_FAULT: 'before-commit@1:stall60000',
      SHUTDOWN_TIMEOUT_MS: '3000',
    });
    await waitForLog(stage, /injecting fault/, 60_000);
    assert.equal(await standingAttempt(names), 'offset 0, 1 attempt(s)', `${how}: the attempt is journaled`);
    stage.child.kill('SIGTERM');
    if (signals === 2) {
      // The second signal must find the first one's clean stop under way.
      await waitForLog(stage, /"msg":"stopping"/, 10_000);
      stage.child.kill('SIGTERM');
    }
    const exit = await stage.exited;
    assert.deepEqual(exit, { code, signal: null }, `${how}:\n${stage.output().slice(-2000)}`);
    assert.equal(await standingAttempt(names), 'none', `${how}: the attempt was taken back before the exit`);
  }
  const clean = await runOnce(suite, names, {});
  assert.equal(clean.exit.code, 0, `a clean stage drains the input:\n${clean.stage.output().slice(-2000)}`);
  assert.doesNotMatch(clean.stage.output(), /an earlier attempt died in this range/, 'nothing isolated');
  assert.deepEqual(await judge(names, workload), []);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});

/**
 * Transactional input whose committed offset lands on a transaction marker: upstream transactions of 5 records
 * (records at 0-4, a commit marker at 5, records at 6-10, …) and transactions of 5 records here, so the first
 * commit ends at 5, on the marker, and the culprit is the record at 6, the first past it. The guard keys its
 * journal by that first record, so the crash loop ends after the bounded number of kills.
 */
test('F25: a crash loop whose committed offset sits on a transaction marker ends: the record past the marker is given up on', async (t) => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const encoder = await metricEncoder(suite.env, names.input);
  const workload = [...metrics({ hosts: 4, perHost: 10, startMs: START_MS, stepMs: 2000, seed: 254 })];
  const upstream = suite.kafka.producer({
    transactionalId: uniqueName('upstream'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await upstream.connect();
  try {
    for (let i = 0; i < workload.length; i += 5) {
      const transaction = await upstream.transaction();
      await transaction.send({
        topic: names.input,
        messages: workload
          .slice(i, i + 5)
          .map((m) => ({ key: m.host, value: encoder.encode(m), partition: 0 })),
      });
      await transaction.commit();
    }
  } finally {
    await upstream.disconnect();
  }
  await produceFlush(suite.env, suite.kafka, names, 1, START_MS + 3_600_000);
  const inputOffsets = (await readAll(suite.kafka, names.input)).records.map((r) => r.offset);
  assert.ok(!inputOffsets.includes('5') && inputOffsets.includes('6'), 'a marker at 5, the culprit at 6');

  const culprit = 6;
  const env = {
    COMMIT_MAX_RECORDS: '5',
    EOS_ROLLUP_FAULT: `process-record@o${culprit}/p0:kill`,
    ON_PROCESS_CRASH: 'dead-letter',
  };
  let kills = 0;
  const committedAtKills: string[] = [];
  for (;;) {
    const result = await runOnce(suite, names, env);
    if (result.exit.signal === null) {
      assert.equal(result.exit.code, 0, `drained:\n${result.stage.output().slice(-2000)}`);
      break;
    }
    assertKilled(result, `run ${kills + 1}`);
    kills += 1;
    const committed = await committedOffsets(suite.kafka, names.appId, names.input);
    committedAtKills.push(String(committed.get(0)));
    assert.ok(
      kills <= 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS,
      `no crash loop (committed offsets at the kills: ${committedAtKills.join(', ')})`,
    );
  }
  assert.equal(committedAtKills[0], '5', 'the first commit ended on the marker');
  assert.ok(committedAtKills.every((c) => c === '5'));
  const dlq = await readAll(suite.kafka, names.dlq);
  assert.deepEqual(
    dlq.records.map((r) => r.headers?.[DLQ_HEADERS.offset]?.toString()),
    [String(culprit)],
    'the culprit past the marker, exactly once',
  );
  const culpritMetric = workload[5]; // offsets 0-4 hold workload[0..4]; 5 is the marker
  const rollups = (await readRollups(suite.kafka, names.output)).filter((r) => !r.host.startsWith('flush-'));
  assert.deepEqual(
    compareRollups(
      rollups,
      expectedWindows(
        workload.filter((m) => m !== culpritMetric),
        WINDOWS.sizeMs,
      ),
    ),
    [],
  );
  // The culprit kills the process on purpose: the auditor accepts its processing-failed dead letter, no other.
  assertNoViolations(
    await auditScenario(suite.env, suite.kafka, names, true, {
      culprits: [{ partition: 0, offset: BigInt(culprit) }],
    }),
  );
  t.diagnostic(`${kills} SIGKILLs, all with the committed offset on the marker at 5`);
});
