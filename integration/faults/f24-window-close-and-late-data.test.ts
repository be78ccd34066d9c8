/**
 * F24 — a crash at the moment windows close, then late data after the restore: windows that closed before the
 * crash are not emitted again, and records for them that arrive afterwards are dead-lettered as late.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { metricEncoder, produceRaw } from '../support/pipeline.js';
import { producerPartitionOf } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';
import {
  START_MS,
  assertKilled,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';

const suite = useStageSuite();

test('F24: SIGKILL at window close, restore, then late data: no window twice, late records in the DLQ', async () => {
  const { names, partitions, workload } = await prepareScenario(suite, { seed: 124 });
  assertKilled(
    await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'at-window-close@2:kill' }),
    'at-window-close',
  );
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);

  const encoder = await metricEncoder(suite.env, names.input);
  const partitionOf = producerPartitionOf(partitions);
  const late = workload.slice(0, 20).map((m) => ({
    partition: partitionOf(Buffer.from(m.host)),
    key: Buffer.from(m.host),
    value: encoder.encode({ ...m, timestamp: START_MS + 5000 }),
  }));
  await produceRaw(suite.kafka, names.input, late);
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 20, 'every late record dead-lettered');
});
