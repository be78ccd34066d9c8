/**
 * Contract: with no faults, every (host, window) of valid input gets exactly one rollup whose count, sums,
 * min and max equal an offline computation, enriched from the inventory (or `unknown`), and the group's
 * committed offsets end at the input's end offsets.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { hostName, metrics } from '../../src/tools/workload.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { producerPartitionOf } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  metricEncoder,
  offsetsNotAtEnd,
  produceRaw,
  readRollups,
  waitForDrain,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 4;
const WINDOW_MS = 60_000;
const suite = useStageSuite();

test('20,000 records over 100 hosts and 4 partitions: exactly one correct rollup per (host, window), offsets at the end', async () => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 100, perHost: 200, startMs, stepMs: 2000, seed: 7 })];
  await loadInventory(
    suite.env,
    suite.kafka,
    names.inventory,
    Array.from({ length: 90 }, (_, i) => ({
      host: hostName(i),
      region: `region-${i % 3}`,
      datacenter: `dc-${i % 5}`,
      role: i % 2 ? 'web' : 'db',
    })),
  );
  const encoder = await metricEncoder(suite.env, names.input);
  const partitionOf = producerPartitionOf(PARTITIONS);
  // One far-future record per partition moves every partition's stream time past the last window's grace.
  const flush: ServerMetric[] = Array.from({ length: PARTITIONS }, (_, p) => ({
    ...workload[0]!,
    host: `flush-${p}`,
    timestamp: startMs + 3_600_000,
  }));
  await produceRaw(suite.kafka, names.input, [
    ...workload.map((m) => ({
      partition: partitionOf(Buffer.from(m.host)),
      key: Buffer.from(m.host),
      value: encoder.encode(m),
    })),
    ...flush.map((m, p) => ({ partition: p, key: Buffer.from(m.host), value: encoder.encode(m) })),
  ]);

  const started = Date.now();
  const stage = suite.start(names, { WINDOW_MS: String(WINDOW_MS), GRACE_MS: '10000' });
  await waitForDrain(suite.kafka, names, 120_000, [stage]);
  const elapsedMs = Date.now() - started;

  const rollups = await readRollups(suite.kafka, names.output);
  const expected = expectedWindows(workload, WINDOW_MS);
  assert.ok(expected.size >= 700, `several windows per host (${expected.size})`);
  assert.deepEqual(compareRollups(rollups, expected), []);
  const known = rollups.find((r) => r.host === hostName(3));
  assert.deepEqual([known?.region, known?.datacenter, known?.role], ['region-0', 'dc-3', 'web']);
  const unknown = rollups.find((r) => r.host === hostName(95));
  assert.deepEqual([unknown?.region, unknown?.datacenter, unknown?.role], ['unknown', 'unknown', 'unknown']);

  assert.deepEqual(await offsetsNotAtEnd(suite.kafka, names), []);

  const exit = await stage.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `clean stop on SIGTERM:\n${stage.output().slice(-2000)}`);
  console.log(
    `# happy path: ${workload.length + PARTITIONS} records drained in ${elapsedMs} ms (${Math.round(((workload.length + PARTITIONS) * 1000) / elapsedMs)} records/s incl. start-up)`,
  );
});
