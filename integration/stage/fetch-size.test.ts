/**
 * Contract: MAX_PARTITION_FETCH_BYTES bounds what a fetch takes from a partition, never what can be read. Kafka
 * returns a record batch larger than the limit only when its partition is the first with data in a fetch (for
 * the others, a truncated batch the client drops), and kafkajs shuffles the partitions of every fetch: input
 * written as one batch per partition, each many times the limit, is read whole and counted exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { metrics } from '../../src/tools/workload.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { producerPartitionOf } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  inputProducer,
  metricEncoder,
  offsetsNotAtEnd,
  produceFlush,
  readRollups,
  waitForDrain,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 2;
const WINDOW_MS = 60_000;
const FETCH_BYTES = 8192;
const suite = useStageSuite();

test('input batches many times MAX_PARTITION_FETCH_BYTES are read whole, every record counted once', async (t) => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload: ServerMetric[] = [...metrics({ hosts: 40, perHost: 100, startMs, stepMs: 1000, seed: 23 })];
  const encoder = await metricEncoder(suite.env, names.input);
  const partitionOf = producerPartitionOf(PARTITIONS);
  const messages = workload.map((m) => ({
    partition: partitionOf(Buffer.from(m.host)),
    key: Buffer.from(m.host),
    value: encoder.encode(m),
  }));
  const bytes = new Map<number, number>();
  for (const m of messages)
    bytes.set(m.partition, (bytes.get(m.partition) ?? 0) + m.key.length + m.value.length);
  // kafkajs writes one record batch per partition per produce request: one send, one batch per partition.
  const producer = inputProducer(suite.kafka);
  await producer.connect();
  try {
    await producer.send({ topic: names.input, messages });
  } finally {
    await producer.disconnect();
  }
  for (let p = 0; p < PARTITIONS; p += 1) {
    const written = bytes.get(p) ?? 0;
    assert.ok(
      written > 8 * FETCH_BYTES,
      `partition ${p}'s one batch holds ${written} bytes of keys and values`,
    );
  }
  t.diagnostic(`one batch per partition: ${[...bytes].map(([p, b]) => `${p}: ${b} bytes`).join(', ')}`);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);

  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '10000',
    MAX_PARTITION_FETCH_BYTES: String(FETCH_BYTES),
  });
  await waitForDrain(suite.kafka, names, 120_000, [stage]);

  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, WINDOW_MS)),
    [],
  );
  assert.deepEqual(await offsetsNotAtEnd(suite.kafka, names), []);
  const exit = await stage.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `clean stop on SIGTERM:\n${stage.output().slice(-2000)}`);
});
