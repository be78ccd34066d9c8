/**
 * Contract: after a real run over a known input (valid records over two partitions, poison pills of two kinds,
 * a flush record per partition) is drained, the stage's /metrics, scraped from the test process, says what
 * happened: records consumed equal the input count, rollups produced equal the rollups on the output topic, DLQ
 * records are counted by their reason, transactions were committed and each has a commit latency observation,
 * every task was restored and runs with a closed circuit breaker, consumer lag (kafka-lag-exporter names and
 * labels) is 0 in records and seconds, the watchdog flags nothing, default process metrics are present, and
 * /healthz and /readyz both answer 200.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { freePort } from '../../scripts/stack/local-stack.js';
import { metrics } from '../../src/tools/workload.js';
import {
  createPipeline,
  loadInventory,
  metricEncoder,
  produceRaw,
  readRollups,
  waitForDrain,
  type ProducedRecord,
} from '../support/pipeline.js';
import { START_MS } from '../support/scenario.js';
import { producerPartitionOf } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';
import { eventually, probe, scrape } from './scrape.js';

const suite = useStageSuite();
const PARTITIONS = 2;

test('after a drained run, /metrics counts every input record, DLQ records by reason, commits, restores, and lag 0', async () => {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  const partitionOf = producerPartitionOf(PARTITIONS);
  const good = [...metrics({ hosts: 20, perHost: 50, startMs: START_MS, stepMs: 2000, seed: 31 })];
  const records: ProducedRecord[] = good.map((m) => ({
    partition: partitionOf(Buffer.from(m.host)),
    key: Buffer.from(m.host),
    value: v2.encode(m),
  }));
  const poison: ProducedRecord[] = [
    { partition: 0, key: Buffer.from('p1'), value: null },
    { partition: 1, key: Buffer.from('p2'), value: null },
    { partition: 0, key: Buffer.from('p3'), value: Buffer.from('not avro') },
    { partition: 1, key: Buffer.from('p4'), value: Buffer.from('not avro either') },
    { partition: 1, key: Buffer.from('p5'), value: Buffer.from('nor this') },
  ];
  const flush: ProducedRecord[] = Array.from({ length: PARTITIONS }, (_, p) => ({
    partition: p,
    key: Buffer.from(`flush-${p}`),
    value: v2.encode({ ...good[0]!, host: `flush-${p}`, timestamp: START_MS + 3_600_000 }),
  }));
  const input = [...records.slice(0, 500), ...poison, ...records.slice(500), ...flush];
  await produceRaw(suite.kafka, names.input, input);

  const port = await freePort();
  const stage = suite.start(names, { METRICS_PORT: String(port), COMMIT_MAX_RECORDS: '100' });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  const rollups = await readRollups(suite.kafka, names.output);

  // Counters move right after each commit; lag comes from a lookup cached for a second.
  const metricsAfter = await eventually('lag 0 on every partition', 10_000, async () => {
    const s = await scrape(port);
    const lags = s.all('kafka_consumergroup_group_lag', { group: names.appId, topic: names.input });
    return lags.length === PARTITIONS && lags.every((l) => l.value === 0) ? s : undefined;
  });
  const m = metricsAfter;
  assert.equal(m.sum('eos_rollup_records_consumed_total'), input.length, 'every input record consumed once');
  assert.equal(
    m.sum('eos_rollup_rollups_produced_total'),
    rollups.length,
    'rollups produced = output records',
  );
  assert.equal(m.sum('eos_rollup_dead_letters_total', { reason: 'null-value' }), 2);
  assert.equal(m.sum('eos_rollup_dead_letters_total', { reason: 'bad-magic-byte' }), 3);
  assert.equal(m.sum('eos_rollup_dead_letters_total'), poison.length, 'no other DLQ records');
  const commits = m.sum('eos_rollup_transactions_committed_total');
  assert.ok(commits >= input.length / 100, `transactions committed (${commits})`);
  assert.equal(m.value('eos_rollup_commit_latency_seconds_count'), commits, 'one latency per commit');
  assert.ok((m.value('eos_rollup_commit_latency_seconds_sum') ?? 0) > 0);
  assert.equal(m.value('eos_rollup_transaction_records_sum'), input.length);
  assert.equal(m.sum('eos_rollup_transactions_aborted_total'), 0);
  assert.ok((m.value('eos_rollup_rebalances_total') ?? 0) >= 1);
  assert.ok((m.value('eos_rollup_rebalance_pause_seconds_count') ?? 0) >= 1);
  assert.ok((m.value('eos_rollup_restore_duration_seconds_count') ?? 0) >= PARTITIONS, 'a restore per task');
  assert.equal(m.value('eos_rollup_assigned_partitions'), PARTITIONS);
  for (let p = 0; p < PARTITIONS; p++) {
    assert.equal(m.value('eos_rollup_circuit_breaker_state', { partition: p, state: 'closed' }), 1);
    assert.equal(m.value('eos_rollup_circuit_breaker_state', { partition: p, state: 'open' }), 0);
    const lagLabels = { group: names.appId, topic: names.input, partition: p };
    assert.equal(m.value('kafka_consumergroup_group_lag_seconds', lagLabels), 0);
    const [lag] = m.all('kafka_consumergroup_group_lag', lagLabels);
    assert.ok(lag?.labels.cluster_name, 'cluster_name carries the Kafka cluster id');
    assert.ok(lag.labels.member_host && lag.labels.consumer_id && lag.labels.client_id);
  }
  assert.equal(m.value('kafka_consumergroup_group_max_lag', { group: names.appId }), 0);
  assert.equal(m.value('kafka_consumergroup_group_max_lag_seconds', { group: names.appId }), 0);
  const retention = m.value('eos_rollup_input_retention_seconds', { topic: names.input }) ?? 0;
  assert.ok(retention > 0, `the input's retention, for the data-loss alert (${retention} s)`);
  assert.equal(m.sum('eos_rollup_watchdog_alert'), 0, 'the watchdog flags nothing');
  assert.equal(m.value('eos_rollup_ready'), 1);
  assert.equal(m.value('eos_rollup_tasks', { phase: 'running' }), PARTITIONS);
  assert.ok(m.value('nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop delay');
  assert.ok(m.value('process_cpu_seconds_total') !== undefined, 'default process metrics');

  assert.equal((await probe(port, '/healthz')).status, 200);
  const ready = await probe(port, '/readyz');
  assert.deepEqual([ready.status, ready.body.ready, ready.body.reasons], [200, true, []]);

  assert.equal((await stage.stop('SIGTERM')).code, 0);
  console.log(
    `# /metrics excerpt after the run:\n${m
      .excerpt([
        'eos_rollup_records_consumed_total',
        'eos_rollup_dead_letters_total',
        'eos_rollup_transactions_committed_total',
        'eos_rollup_commit_latency_seconds_count',
        'eos_rollup_restore_duration_seconds_count',
        'kafka_consumergroup_group_lag',
        'kafka_consumergroup_group_max_lag',
        'eos_rollup_input_retention_seconds',
        'eos_rollup_ready',
      ])
      .replace(/^/gm, '# ')}`,
  );
});
