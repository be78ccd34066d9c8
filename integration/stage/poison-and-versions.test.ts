/**
 * Contract: poison pills of every kind, interleaved with good records, each land in the DLQ exactly once with
 * their raw bytes untouched, their reason and source coordinates; good records are unaffected; v1 and v2
 * writers mixed in one partition both decode with the v2 reader.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { hostName, metrics } from '../../src/tools/workload.js';
import { readAll } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  metricEncoder,
  produceRaw,
  readRollups,
  waitForDrain,
  type ProducedRecord,
} from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';

const WINDOW_MS = 60_000;
const suite = useStageSuite();

function header(value: unknown): string | undefined {
  return Buffer.isBuffer(value) ? value.toString() : typeof value === 'string' ? value : undefined;
}

test('every poison kind is dead-lettered exactly once with raw bytes, reason and source; v1 and v2 writers mix in one partition', async () => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const v1 = await metricEncoder(suite.env, names.input, 'v1');
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const good = [...metrics({ hosts: 20, perHost: 50, startMs, stepMs: 3000, seed: 11 })];
  const base: ServerMetric = { ...good[0]!, host: hostName(0) };
  const truncated = v2.encode(base).subarray(0, 9);
  const unknownId = Buffer.from(v2.encode(base));
  unknownId.writeInt32BE(2_000_000_000, 1);
  const poison: { reason: string; value: Buffer | null }[] = [
    { reason: 'bad-magic-byte', value: Buffer.from('this is not avro at all') },
    { reason: 'bad-magic-byte', value: Buffer.concat([Buffer.from([7]), v2.encode(base).subarray(1)]) },
    { reason: 'unknown-schema-id', value: unknownId },
    { reason: 'avro-decode', value: truncated },
    { reason: 'empty-host', value: v2.encode({ ...base, host: '  ' }) },
    { reason: 'non-finite-value', value: v2.encode({ ...base, cpu_percent: Number.NaN }) },
    { reason: 'percent-out-of-range', value: v2.encode({ ...base, mem_percent: 150 }) },
    { reason: 'negative-counter', value: v2.encode({ ...base, net_rx_bytes: -5 }) },
    { reason: 'timestamp-out-of-range', value: v2.encode({ ...base, timestamp: Date.UTC(1999, 0, 1) }) },
    { reason: 'null-value', value: null },
  ];
  const records: (ProducedRecord & { reason?: string })[] = [];
  good.forEach((m, i) => {
    records.push({ partition: 0, key: Buffer.from(m.host), value: (i % 2 ? v1 : v2).encode(m) });
    const p = poison[i % 97 === 0 ? (i / 97) % poison.length : -1];
    if (p) records.push({ partition: 0, key: Buffer.from(`poison-${i}`), value: p.value, reason: p.reason });
  });
  // A late record: its window closed long ago in stream time, after everything above.
  const late = {
    partition: 0,
    key: Buffer.from('late'),
    value: v2.encode({ ...base, timestamp: startMs }),
    reason: 'late',
  };
  const flush = {
    partition: 0,
    key: Buffer.from('flush'),
    value: v2.encode({ ...base, host: 'flush', timestamp: startMs + 3_600_000 }),
  };
  records.push(flush, late);
  await produceRaw(suite.kafka, names.input, records);
  const expectedPoison = records.filter((r) => r.reason !== undefined);
  assert.ok(new Set(expectedPoison.map((r) => r.reason)).size >= 9, 'at least 9 poison kinds');

  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    GRACE_MS: '10000',
    COMMIT_MAX_RECORDS: '100',
  });
  await waitForDrain(suite.kafka, names, 90_000, [stage]);

  const dlq = await readAll(suite.kafka, names.dlq);
  assert.equal(dlq.records.length, expectedPoison.length, 'each poison pill exactly once');
  const byKey = new Map(dlq.records.map((r) => [r.key?.toString(), r]));
  for (const p of expectedPoison) {
    const dead = byKey.get(p.key?.toString());
    assert.ok(dead, `${p.key?.toString()} (${p.reason}) is in the DLQ`);
    assert.equal(header(dead.headers?.[DLQ_HEADERS.reason]), p.reason, `${p.key?.toString()} reason`);
    assert.deepEqual(dead.value, p.value, `${p.key?.toString()} raw value untouched`);
    assert.equal(header(dead.headers?.[DLQ_HEADERS.topic]), names.input);
    assert.equal(header(dead.headers?.[DLQ_HEADERS.partition]), '0');
    assert.match(header(dead.headers?.[DLQ_HEADERS.offset]) ?? '', /^\d+$/);
  }
  const rollups = await readRollups(suite.kafka, names.output);
  assert.deepEqual(compareRollups(rollups, expectedWindows(good, WINDOW_MS)), []);
  assert.deepEqual((await stage.stop()).code, 0);
});
