import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';

import { StageEvents } from '../../src/observability/events.js';
import type { LagSnapshot } from '../../src/observability/lag-monitor.js';
import { attachMetrics, type MetricSources } from '../../src/observability/metrics.js';
import { Watchdog } from '../../src/observability/watchdog.js';

/** A fresh registry and event bus per test, and a way to read one series back. */
function setUp(sources: MetricSources = {}) {
  const events = new StageEvents();
  const registry = new Registry();
  attachMetrics(events, registry, sources);
  return {
    events,
    registry,
    /** The value of `name` whose labels include `labels`; undefined when there is no such series. */
    async value(name: string, labels: Record<string, string | number> = {}): Promise<number | undefined> {
      const base = name.replace(/_(sum|count|bucket)$/, '');
      const metric = registry.getSingleMetric(name) ?? registry.getSingleMetric(base);
      assert.ok(metric, `metric ${name} is registered`);
      const values = (await metric.get()).values as { value: number; labels: object; metricName?: string }[];
      const found = values.find(
        (v) =>
          (v.metricName === undefined || v.metricName === name) &&
          Object.entries(labels).every(
            ([k, want]) => String((v.labels as Record<string, unknown>)[k]) === String(want),
          ),
      );
      return found?.value;
    },
    async series(name: string): Promise<number> {
      const metric = registry.getSingleMetric(name);
      assert.ok(metric, `metric ${name} is registered`);
      return (await metric.get()).values.length;
    },
  };
}

function commit(
  events: StageEvents,
  partition: number,
  fields: Partial<{ inputRecords: number; rollups: number; durationMs: number }> = {},
) {
  events.emit('task.committed', {
    partition,
    inputRecords: fields.inputRecords ?? 100,
    rollups: fields.rollups ?? 3,
    deadLetters: 0,
    changelog: 10,
    endOffset: 100n,
    durationMs: fields.durationMs ?? 40,
    attemptId: 'i/p0-1',
  });
}

test('a committed transaction counts its input records, rollups, the commit, its latency and its size', async () => {
  const m = setUp();
  commit(m.events, 0, { inputRecords: 100, rollups: 3, durationMs: 40 });
  commit(m.events, 0, { inputRecords: 50, rollups: 0, durationMs: 60 });
  commit(m.events, 1, { inputRecords: 7, rollups: 1, durationMs: 20 });
  assert.equal(await m.value('eos_rollup_records_consumed_total', { partition: 0 }), 150);
  assert.equal(await m.value('eos_rollup_records_consumed_total', { partition: 1 }), 7);
  assert.equal(await m.value('eos_rollup_rollups_produced_total', { partition: 0 }), 3);
  assert.equal(await m.value('eos_rollup_transactions_committed_total', { partition: 0 }), 2);
  assert.equal(await m.value('eos_rollup_commit_latency_seconds_count'), 3);
  const sum = await m.value('eos_rollup_commit_latency_seconds_sum');
  assert.ok(Math.abs((sum ?? 0) - 0.12) < 1e-9, `latency in seconds (${sum})`);
  assert.equal(await m.value('eos_rollup_transaction_records_bucket', { le: 50 }), 2, '7 and 50 records');
});

test('dead letters are counted by reason', async () => {
  const m = setUp();
  m.events.emit('record.dead_lettered', { partition: 0, reason: 'null-value', offset: 1n });
  m.events.emit('record.dead_lettered', { partition: 0, reason: 'null-value', offset: 2n });
  m.events.emit('record.dead_lettered', { partition: 1, reason: 'late', offset: 3n });
  assert.equal(await m.value('eos_rollup_dead_letters_total', { partition: 0, reason: 'null-value' }), 2);
  assert.equal(await m.value('eos_rollup_dead_letters_total', { reason: 'late' }), 1);
});

test('an aborted transaction is counted with the kind of the error that aborted it', async () => {
  const m = setUp();
  m.events.emit('transaction.began', { partition: 0, transactionalId: 't', atMs: 0 });
  m.events.emit('transaction.ended', { partition: 0, outcome: 'aborted', durationMs: 5 });
  m.events.emit('task.aborted', {
    partition: 0,
    kind: 'fenced',
    code: 'PRODUCER_FENCED',
    message: 'x',
    attempt: 1,
  });
  assert.equal(await m.value('eos_rollup_transactions_aborted_total', { partition: 0, reason: 'fenced' }), 1);
  assert.equal(
    await m.value('eos_rollup_task_failures_total', { kind: 'fenced', code: 'PRODUCER_FENCED' }),
    1,
  );
});

test('a failure outside any transaction (a registry lookup) is a task failure, not an aborted transaction', async () => {
  const m = setUp();
  m.events.emit('task.aborted', {
    partition: 0,
    kind: 'retriable',
    code: 'REGISTRY_UNAVAILABLE',
    message: 'x',
    attempt: 1,
  });
  assert.equal(await m.series('eos_rollup_transactions_aborted_total'), 0);
  assert.equal(await m.value('eos_rollup_task_failures_total', { kind: 'retriable' }), 1);
});

test('a transaction left open when its producer closed counts as aborted, reason abandoned', async () => {
  const m = setUp();
  m.events.emit('transaction.ended', { partition: 2, outcome: 'abandoned', durationMs: 5 });
  assert.equal(
    await m.value('eos_rollup_transactions_aborted_total', { partition: 2, reason: 'abandoned' }),
    1,
  );
});

test('each assigned partition shows its circuit breaker state, closed by default', async () => {
  const m = setUp();
  m.events.emit('stage.assigned', { partitions: [0, 1] });
  m.events.emit('breaker.changed', { partition: 1, state: 'open' });
  assert.equal(await m.value('eos_rollup_circuit_breaker_state', { partition: 1, state: 'open' }), 1);
  assert.equal(await m.value('eos_rollup_circuit_breaker_state', { partition: 1, state: 'closed' }), 0);
  assert.equal(await m.value('eos_rollup_circuit_breaker_state', { partition: 0, state: 'closed' }), 1);
  m.events.emit('breaker.changed', { partition: 1, state: 'half-open' });
  assert.equal(await m.value('eos_rollup_circuit_breaker_state', { partition: 1, state: 'half-open' }), 1);
  m.events.emit('stage.assigned', { partitions: [0] });
  assert.equal(
    await m.value('eos_rollup_circuit_breaker_state', { partition: 1 }),
    undefined,
    'gone when unassigned',
  );
  assert.equal(await m.value('eos_rollup_assigned_partitions'), 1);
});

test('assignments count as rebalances, and the pause until every task runs is observed in seconds', async () => {
  const m = setUp();
  m.events.emit('stage.assigned', { partitions: [0, 1] });
  m.events.emit('stage.rebalanced', { partitions: [0, 1], pauseMs: 1500 });
  assert.equal(await m.value('eos_rollup_rebalances_total'), 1);
  assert.equal(await m.value('eos_rollup_rebalance_pause_seconds_sum'), 1.5);
});

test('a restore shows its remaining changelog offsets while it runs, then its duration and records', async () => {
  const m = setUp();
  m.events.emit('stage.assigned', { partitions: [0] });
  m.events.emit('task.restore_progressed', { partition: 0, records: 0, position: null, endOffset: 1000n });
  assert.equal(await m.series('eos_rollup_restore_remaining_offsets'), 0, 'unknown before the first batch');
  m.events.emit('task.restore_progressed', { partition: 0, records: 400, position: 400n, endOffset: 1000n });
  assert.equal(await m.value('eos_rollup_restore_remaining_offsets', { partition: 0 }), 600);
  m.events.emit('task.restored', { partition: 0, records: 999, windows: 300, durationMs: 2500 });
  assert.equal(await m.series('eos_rollup_restore_remaining_offsets'), 0);
  assert.equal(await m.value('eos_rollup_restore_duration_seconds_sum'), 2.5);
  assert.equal(await m.value('eos_rollup_restored_records_total', { partition: 0 }), 999);
});

const identity = {
  group: 'app',
  topic: 'in',
  memberHost: 'host-a',
  consumerId: 'host-a-1',
  clientId: 'app-host-a-1',
};

test("lag metrics carry kafka-lag-exporter's names and labels; seconds are the oldest unread record's age now", async () => {
  let nowMs = 100_000;
  const snapshot: LagSnapshot = {
    atMs: 99_000,
    clusterName: 'cluster-x',
    retentionMs: 604_800_000,
    partitions: [
      { partition: 0, position: 10n, lastStableOffset: 10n, lagRecords: 0, oldestUnreadTimestampMs: null },
      { partition: 1, position: 5n, lastStableOffset: 25n, lagRecords: 20, oldestUnreadTimestampMs: 70_000 },
    ],
  };
  const m = setUp({ lag: () => Promise.resolve(snapshot), identity, now: () => nowMs });
  const labels = {
    cluster_name: 'cluster-x',
    group: 'app',
    topic: 'in',
    partition: 1,
    member_host: 'host-a',
    consumer_id: 'host-a-1',
    client_id: 'app-host-a-1',
  };
  assert.equal(await m.value('kafka_consumergroup_group_lag', labels), 20);
  assert.equal(await m.value('kafka_consumergroup_group_lag_seconds', labels), 30);
  assert.equal(await m.value('kafka_consumergroup_group_lag_seconds', { partition: 0 }), 0);
  assert.equal(await m.value('kafka_consumergroup_group_offset', { partition: 1 }), 5);
  const group = { cluster_name: 'cluster-x', group: 'app', is_simple_consumer: 'false' };
  assert.equal(await m.value('kafka_consumergroup_group_max_lag', group), 20);
  nowMs = 110_000;
  assert.equal(
    await m.value('kafka_consumergroup_group_max_lag_seconds', group),
    40,
    'the age grows with time',
  );
  assert.equal(await m.value('eos_rollup_input_retention_seconds', { topic: 'in' }), 604_800);
});

test('one scrape evaluates lag seconds at one instant: the max is the largest partition’s value, however the clock ticks between collects', async () => {
  let ticks = 100_000;
  const snapshot: LagSnapshot = {
    atMs: 99_000,
    clusterName: 'c',
    retentionMs: null,
    partitions: [
      { partition: 0, position: 1n, lastStableOffset: 9n, lagRecords: 8, oldestUnreadTimestampMs: 96_733 },
      { partition: 1, position: 5n, lastStableOffset: 6n, lagRecords: 1, oldestUnreadTimestampMs: 99_500 },
    ],
  };
  // Every reading of the clock moves it on by a millisecond, as a busy process would.
  const m = setUp({ lag: () => Promise.resolve(snapshot), identity, now: () => (ticks += 1) });
  const text = await m.registry.metrics();
  const valueOf = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
  const partition0 = valueOf(/^kafka_consumergroup_group_lag_seconds\{[^}]*partition="0"[^}]*\} (\S+)$/m);
  const max = valueOf(/^kafka_consumergroup_group_max_lag_seconds\{[^}]*\} (\S+)$/m);
  assert.ok(partition0 > 3.2 && partition0 < 3.3, String(partition0));
  assert.equal(max, partition0);
});

test('a failed lag lookup leaves the scrape without lag series instead of stale values', async () => {
  const m = setUp({ lag: () => Promise.resolve(undefined), identity, lagLookupFailures: () => 2 });
  assert.equal(await m.series('kafka_consumergroup_group_lag'), 0);
  assert.equal(await m.series('kafka_consumergroup_group_max_lag_seconds'), 0);
  assert.equal(await m.value('eos_rollup_lag_lookup_failures_total'), 2);
});

test('readiness shows as eos_rollup_ready and tasks by phase', async () => {
  let ready = false;
  const m = setUp({
    readiness: () => ({
      ready,
      reasons: ready ? [] : ['partition 1 restoring state'],
      partitions: [
        { partition: 0, phase: 'running' },
        { partition: 1, phase: ready ? 'running' : 'restoring' },
      ],
    }),
  });
  assert.equal(await m.value('eos_rollup_ready'), 0);
  assert.equal(await m.value('eos_rollup_tasks', { phase: 'restoring' }), 1);
  ready = true;
  assert.equal(await m.value('eos_rollup_ready'), 1);
  assert.equal(await m.value('eos_rollup_tasks', { phase: 'running' }), 2);
  assert.equal(await m.value('eos_rollup_tasks', { phase: 'restoring' }), 0);
});

test('watchdog findings and open transaction ages show per partition', async () => {
  let nowMs = 0;
  const events = new StageEvents();
  const watchdog = new Watchdog({ stallAfterMs: 5000, transactionWarnAfterMs: 3000 }, () => nowMs, {
    raised: () => undefined,
    cleared: () => undefined,
  });
  watchdog.subscribe(events);
  const registry = new Registry();
  attachMetrics(events, registry, { watchdog });
  events.emit('stage.assigned', { partitions: [0, 1] });
  events.emit('transaction.began', { partition: 1, transactionalId: 't', atMs: 0 });
  nowMs = 4000;
  const alerts = (await registry.getSingleMetric('eos_rollup_watchdog_alert')?.get())?.values ?? [];
  const alertOf = (partition: number, check: string) =>
    alerts.find((v) => v.labels.partition === partition && v.labels.check === check)?.value;
  assert.equal(alertOf(1, 'long-transaction'), 1);
  assert.equal(alertOf(0, 'long-transaction'), 0);
  assert.equal(alertOf(0, 'stalled'), 0);
  const ages =
    (await registry.getSingleMetric('eos_rollup_open_transaction_age_seconds')?.get())?.values ?? [];
  assert.equal(ages.find((v) => v.labels.partition === 1)?.value, 4);
  assert.equal(ages.find((v) => v.labels.partition === 0)?.value, 0);
});

test('the text exposition has every metric with HELP and TYPE, and the default process metrics when asked', async () => {
  const events = new StageEvents();
  const registry = new Registry();
  attachMetrics(events, registry, {}, { defaultMetrics: true });
  commit(events, 0);
  const text = await registry.metrics();
  assert.match(text, /^# TYPE eos_rollup_records_consumed_total counter$/m);
  assert.match(text, /^eos_rollup_records_consumed_total\{partition="0"\} 100$/m);
  assert.match(text, /^# TYPE eos_rollup_commit_latency_seconds histogram$/m);
  assert.match(text, /^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/m);
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
});

test('build_info says which build runs: version, Node.js and processing guarantee, value 1', async () => {
  const registry = new Registry();
  attachMetrics(
    new StageEvents(),
    registry,
    {},
    {
      build: { version: '1.2.3', nodeVersion: 'v24.0.0', processingGuarantee: 'exactly_once' },
    },
  );
  const text = await registry.metrics();
  assert.match(
    text,
    /^eos_rollup_build_info\{version="1\.2\.3",node_version="v24\.0\.0",processing_guarantee="exactly_once"\} 1$/m,
  );
});

test('per-partition gauges list only the partitions they describe: records waiting, unstable changelog offsets, quarantine', async () => {
  const m = setUp();
  m.events.emit('task.pending_changed', { partition: 0, records: 1200 });
  m.events.emit('task.pending_changed', { partition: 1, records: 30 });
  m.events.emit('task.restore_waiting', { partition: 2, stableOffset: 10n, highWatermark: 17n, waitedMs: 5 });
  m.events.emit('partition.quarantined', { partition: 3, offset: 42n, crashes: 3 });
  assert.equal(await m.value('eos_rollup_pending_records', { partition: 0 }), 1200);
  assert.equal(await m.value('eos_rollup_pending_records', { partition: 1 }), 30);
  assert.equal(await m.value('eos_rollup_restore_unstable_changelog_offsets', { partition: 2 }), 7);
  assert.equal(await m.value('eos_rollup_quarantined_partition_offset', { partition: 3 }), 42);
  assert.equal(await m.series('eos_rollup_restore_unstable_changelog_offsets'), 1);
  assert.equal(await m.series('eos_rollup_quarantined_partition_offset'), 1);
  // Taken by its commit, or its task closed: the series goes.
  m.events.emit('task.pending_changed', { partition: 0, records: 0 });
  m.events.emit('task.closed', { partition: 1, clean: true });
  assert.equal(await m.series('eos_rollup_pending_records'), 0);
});
