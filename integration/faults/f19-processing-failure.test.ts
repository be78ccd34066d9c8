/**
 * F19 — a record that breaks processing every time must end in the DLQ (reason processing-failed) after a bounded
 * number of attempts, and the partition must go on: never stuck, no crash loop. Two kinds of breaking:
 * (a) processing throws: the task retries it in memory MAX_PROCESSING_ATTEMPTS times, then dead-letters it;
 * (b) processing kills the whole process (simulated OOM: SIGKILL at that input offset, every time): nothing in
 * memory survives, so the count lives in the processing-attempts journal (`<APP_ID>-processing-attempts`). A
 * process that died before committing past the offset it began at makes the next one process that range one
 * record per transaction, journaling each offset first; the record that then dies alone MAX_PROCESSING_ATTEMPTS
 * times is dead-lettered unprocessed when ON_PROCESS_CRASH=dead-letter is opted in (by default its partition is
 * quarantined instead: integration/ops/quarantine.test.ts). The test restarts the stage each time it dies and
 * proves the deaths were SIGKILLs, their number is bounded, the culprit is in the DLQ exactly once, and the
 * auditor finds no violation.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { CRASHES_BEFORE_ISOLATION } from '../../src/engine/attempt-policy.js';
import { MAX_PROCESSING_ATTEMPTS } from '../../src/engine/task.js';
import { decodeAttemptEntry, processingAttemptsTopic } from '../../src/kafka/stage/attempt-journal.js';
import { readAll } from '../support/kafka.js';
import { logLines } from '../support/private-broker.js';
import { useStageSuite } from '../support/stage-suite.js';
import {
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';

const suite = useStageSuite();

async function deadLetters(topic: string): Promise<[string | undefined, string | undefined, string][]> {
  const dlq = await readAll(suite.kafka, topic);
  return dlq.records.map((r) => [
    r.headers?.[DLQ_HEADERS.offset]?.toString(),
    r.headers?.[DLQ_HEADERS.reason]?.toString(),
    r.headers?.[DLQ_HEADERS.message]?.toString() ?? '',
  ]);
}

test('F19a: a record that always breaks processing is dead-lettered after bounded attempts and the partition goes on', async () => {
  const { names } = await prepareScenario(suite, { seed: 119, partitions: 1 });
  const result = await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'process-record@o137/p0:throw' });
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  const attempts = (result.stage.output().match(/"code":"RECORD_PROCESSING_FAILED"/g) ?? []).length;
  assert.equal(attempts, MAX_PROCESSING_ATTEMPTS, 'bounded attempts, no crash loop');
  assert.deepEqual(
    (await deadLetters(names.dlq)).map(([offset, reason]) => [offset, reason]),
    [['137', 'processing-failed']],
  );
  assertNoViolations(
    await auditScenario(suite.env, suite.kafka, names, true, { culprits: [{ partition: 0, offset: 137n }] }),
  );
});

test('F19b: with ON_PROCESS_CRASH=dead-letter, a record that kills the process is found by isolation and dead-lettered after bounded crashes; no crash loop', async (t) => {
  const culprit = 137;
  const { names, workload } = await prepareScenario(suite, { seed: 219, partitions: 1 });
  const fault = { EOS_ROLLUP_FAULT: `process-record@o${culprit}/p0:kill`, ON_PROCESS_CRASH: 'dead-letter' };
  const isolationLines: string[] = [];
  let kills = 0;
  for (;;) {
    const result = await runOnce(suite, names, fault);
    isolationLines.push(
      ...logLines(result.stage.output(), /^an earlier attempt died in this range|^record crashed/),
    );
    if (result.exit.signal === null) {
      assert.equal(
        result.exit.code,
        0,
        `drained, then stopped cleanly:\n${result.stage.output().slice(-2000)}`,
      );
      break;
    }
    assertKilled(result, `run ${kills + 1}`);
    kills += 1;
    assert.ok(kills <= 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS, 'no crash loop');
  }
  // The first process commits up to the transaction holding the culprit, so nothing is suspected yet; the next
  // CRASHES_BEFORE_ISOLATION die at that same committed offset, so the one after isolates; the culprit then dies
  // alone MAX times.
  assert.equal(kills, 1 + CRASHES_BEFORE_ISOLATION + MAX_PROCESSING_ATTEMPTS, 'each crash accounted for');
  t.diagnostic(`${kills} SIGKILLs; ${isolationLines.length} isolation log lines`);

  const dead = await deadLetters(names.dlq);
  assert.deepEqual(
    dead.map(([offset, reason]) => [offset, reason]),
    [[String(culprit), 'processing-failed']],
    'the culprit, exactly once',
  );
  assert.match(dead[0]?.[2] ?? '', new RegExp(`crashed the process ${MAX_PROCESSING_ATTEMPTS} times`));

  const journal = await readAll(suite.kafka, processingAttemptsTopic(names.appId));
  const culpritAttempts = journal.records
    .map((r) => decodeAttemptEntry(r.value))
    .filter((e) => e?.offset === BigInt(culprit) && e.isolated)
    .map((e) => `alone #${e?.attempts}`);
  assert.deepEqual(
    culpritAttempts,
    Array.from({ length: MAX_PROCESSING_ATTEMPTS }, (_, i) => `alone #${i + 1}`),
    'the journal shows the culprit attempted alone, each time before it was processed',
  );

  const outcome = await auditScenario(suite.env, suite.kafka, names, true, {
    culprits: [{ partition: 0, offset: BigInt(culprit) }],
  });
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.inputRecords, workload.length + 1, 'the workload and the flush record');
  assert.equal(outcome.report.counts.dlqRecords, 1);
});
