/**
 * F23 — transactional input with aborted upstream transactions: the stage (read_committed) never counts an
 * aborted input record, and its committed offsets still reach the input's end even though the input ends with
 * transaction markers that no batch delivers (kafkajs skips such batches; the stage commits their offsets alone).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { metrics } from '../../src/tools/workload.js';
import { createPipeline, loadInventory, metricEncoder } from '../support/pipeline.js';
import { producerPartitionOf, uniqueName } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';
import { START_MS, assertNoViolations, auditScenario, runOnce } from '../support/scenario.js';

const suite = useStageSuite();
const PARTITIONS = 2;

test('F23: aborted upstream transactions are never counted and committed offsets reach the end past the markers', async () => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const encoder = await metricEncoder(suite.env, names.input);
  const partitionOf = producerPartitionOf(PARTITIONS);
  const workload = [...metrics({ hosts: 20, perHost: 60, startMs: START_MS, stepMs: 2000, seed: 123 })];
  const upstream = suite.kafka.producer({
    transactionalId: uniqueName('upstream'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await upstream.connect();
  let aborted = 0;
  try {
    const chunks = 12;
    const size = Math.ceil(workload.length / chunks);
    for (let i = 0; i < chunks; i++) {
      const transaction = await upstream.transaction();
      await transaction.send({
        topic: names.input,
        messages: workload.slice(i * size, (i + 1) * size).map((m) => ({
          key: m.host,
          value: encoder.encode(m),
          partition: partitionOf(Buffer.from(m.host)),
        })),
      });
      // Every third transaction, and the last one, is aborted: the input ends with abort markers.
      if (i % 3 === 2 || i === chunks - 1) {
        await transaction.abort();
        aborted += Math.min(size, workload.length - i * size);
      } else {
        await transaction.commit();
      }
    }
  } finally {
    await upstream.disconnect();
  }
  assert.ok(aborted > 0);

  const result = await runOnce(suite, names, {});
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  const outcome = await auditScenario(suite.env, suite.kafka, names, true);
  assertNoViolations(outcome);
  assert.equal(
    outcome.report.counts.inputRecords,
    workload.length - aborted,
    'only committed upstream records were read',
  );
});
