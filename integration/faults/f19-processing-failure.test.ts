/**
 * F19 — a record whose processing throws every time: the task retries it a bounded number of times
 * (MAX_PROCESSING_ATTEMPTS), then dead-letters it with reason processing-failed and goes on; the partition is
 * never stuck and no crash loop starts. (A record that kills the whole process is not covered: the attempt count
 * lives in memory.)
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/domain/dead-letter.js';
import { MAX_PROCESSING_ATTEMPTS } from '../../src/engine/task.js';
import { readAll } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';
import { assertNoViolations, auditScenario, prepareScenario, runOnce } from '../support/scenario.js';

const suite = useStageSuite();

test('F19: a record that always breaks processing is dead-lettered after bounded attempts and the partition goes on', async () => {
  const { names } = await prepareScenario(suite, { seed: 119, partitions: 1 });
  const result = await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'process-record@o137/p0:throw' });
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  const attempts = (result.stage.output().match(/"code":"RECORD_PROCESSING_FAILED"/g) ?? []).length;
  assert.equal(attempts, MAX_PROCESSING_ATTEMPTS, 'bounded attempts, no crash loop');
  const dlq = await readAll(suite.kafka, names.dlq);
  assert.deepEqual(
    dlq.records.map((r) => [
      r.headers?.[DLQ_HEADERS.offset]?.toString(),
      r.headers?.[DLQ_HEADERS.reason]?.toString(),
    ]),
    [['137', 'processing-failed']],
  );
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
