/**
 * F18 — poison pills mid-batch combined with a SIGKILL right after the dead-letter send: the aborted dead
 * letters are invisible, the retried ones land once; every poison pill is in the DLQ exactly once.
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

test('F18: SIGKILL after the DLQ send: every poison pill is dead-lettered exactly once', async () => {
  const { names, partitions, workload } = await prepareScenario(suite, { seed: 118 });
  const encoder = await metricEncoder(suite.env, names.input);
  const partitionOf = producerPartitionOf(partitions);
  const base = workload[0]!;
  const poison = Array.from({ length: 40 }, (_, i) => {
    const key = Buffer.from(`poison-${i}`);
    const value =
      i % 4 === 0
        ? Buffer.from('garbage')
        : i % 4 === 1
          ? encoder.encode({ ...base, mem_percent: 250 })
          : i % 4 === 2
            ? null
            : encoder.encode({ ...base, timestamp: START_MS - 86_400_000 }); // late: far behind the flush record
    return { partition: partitionOf(key), key, value };
  });
  await produceRaw(suite.kafka, names.input, poison);
  assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: 'after-dlq-send@2:kill' }), 'after-dlq-send');
  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 40);
  assert.ok(outcome.abortedRecords > 0, 'the killed transaction’s dead letters were aborted');
});
