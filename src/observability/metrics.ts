/**
 * Prometheus metrics: counters and histograms fed by the engine's events, and point-in-time values (readiness,
 * lag, circuit breakers, open transactions, watchdog findings) computed in collect callbacks at scrape time. The
 * engine never sees any of this; it only emits events.
 *
 * Lag uses kafka-lag-exporter's names and labels, so its dashboards and alerts work unchanged; every other metric
 * is `eos_rollup_*` in base units (`_seconds`, `_total`). The README ("Operations") lists them all.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BreakerState, StageEvents } from './events.js';
import { lagSecondsAt, type LagSnapshot } from './lag-monitor.js';
import type { PartitionPhase, Readiness } from './readiness.js';
import type { Watchdog } from './watchdog.js';

export const PREFIX = 'eos_rollup_';

/** Who this instance is, for kafka-lag-exporter's labels. */
export interface ConsumerIdentity {
  group: string;
  topic: string;
  memberHost: string;
  consumerId: string;
  clientId: string;
}

/** What collect callbacks read at scrape time; each part is optional so events alone can be tested. */
export interface MetricSources {
  readiness?: () => Readiness;
  lag?: () => Promise<LagSnapshot | undefined>;
  lagLookupFailures?: () => number;
  watchdog?: Watchdog;
  identity?: ConsumerIdentity;
  now?: () => number;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const PAUSE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const RECORD_BUCKETS = [0, 1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000];
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];
const PHASES: readonly PartitionPhase[] = ['initializing', 'restoring', 'running', 'quarantined'];
const LAG_LABELS = [
  'cluster_name',
  'group',
  'topic',
  'partition',
  'member_host',
  'consumer_id',
  'client_id',
] as const;
const MAX_LAG_LABELS = ['cluster_name', 'group', 'is_simple_consumer'] as const;

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, GC, event-loop delay). */
  defaultMetrics?: boolean;
  /** The build this process runs, as the conventional `_build_info` gauge (always 1) with labels. */
  build?: { version: string; nodeVersion: string; processingGuarantee: string };
}

/**
 * Registers every metric on `registry` and subscribes to `events`. Returns a function that unsubscribes.
 */
export function attachMetrics(
  events: StageEvents,
  registry: Registry,
  sources: MetricSources = {},
  options: MetricsOptions = {},
): () => void {
  const now = sources.now ?? Date.now;
  const registers = [registry];
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  if (options.build) {
    // The value is always 1; the labels carry the facts, so a query can join them to any other series.
    new Gauge<'version' | 'node_version' | 'processing_guarantee'>({
      name: `${PREFIX}build_info`,
      help: 'Always 1; labels: the eos-rollup version, the Node.js version and the processing guarantee.',
      labelNames: ['version', 'node_version', 'processing_guarantee'],
      registers,
    }).set(
      {
        version: options.build.version,
        node_version: options.build.nodeVersion,
        processing_guarantee: options.build.processingGuarantee,
      },
      1,
    );
  }

  // What the engine reported, kept for the collect callbacks.
  let assigned: number[] = [];
  const breakers = new Map<number, BreakerState>();
  const restoring = new Map<number, { position: bigint | null; endOffset: bigint }>();
  /** Partitions whose restore waits for an open changelog transaction: offsets above its last stable offset. */
  const unstable = new Map<number, bigint>();
  const abortPending = new Set<number>();
  const quarantinedAt = new Map<number, bigint>();

  const recordsConsumed = new Counter({
    name: `${PREFIX}records_consumed_total`,
    help: 'Input records covered by committed transactions (poison pills included).',
    labelNames: ['partition'],
    registers,
  });
  const rollupsProduced = new Counter({
    name: `${PREFIX}rollups_produced_total`,
    help: 'Final window rollups written to the output topic in committed transactions.',
    labelNames: ['partition'],
    registers,
  });
  const deadLetters = new Counter({
    name: `${PREFIX}dead_letters_total`,
    help: 'Input records written to the DLQ in committed transactions, by poison reason.',
    labelNames: ['partition', 'reason'],
    registers,
  });
  const committed = new Counter({
    name: `${PREFIX}transactions_committed_total`,
    help: 'Transactions committed.',
    labelNames: ['partition'],
    registers,
  });
  const aborted = new Counter({
    name: `${PREFIX}transactions_aborted_total`,
    help: 'Transactions begun but not committed, by reason: the error kind (retriable, fenced, fatal), or abandoned (producer closed with the transaction open).',
    labelNames: ['partition', 'reason'],
    registers,
  });
  const failures = new Counter({
    name: `${PREFIX}task_failures_total`,
    help: 'Failures a task recovered from or stopped on (inside a transaction or not), by error kind and code.',
    labelNames: ['partition', 'kind', 'code'],
    registers,
  });
  const commitLatency = new Histogram({
    name: `${PREFIX}commit_latency_seconds`,
    help: 'One committed transaction, from its schema lookups through processing, sends and sendOffsets to the end of the commit.',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const recordsPerTransaction = new Histogram({
    name: `${PREFIX}transaction_records`,
    help: 'Input records per committed transaction.',
    buckets: RECORD_BUCKETS,
    registers,
  });
  const rebalances = new Counter({
    name: `${PREFIX}rebalances_total`,
    help: 'Partition assignments received from the consumer group (the first join included).',
    registers,
  });
  const rebalancePause = new Histogram({
    name: `${PREFIX}rebalance_pause_seconds`,
    help: "Stop-the-world of a rebalance as this instance sees it: from the first sign of it (a batch interrupted by it, else the new assignment) until every assigned partition's task is running again.",
    buckets: PAUSE_BUCKETS,
    registers,
  });
  const restoreDuration = new Histogram({
    name: `${PREFIX}restore_duration_seconds`,
    help: 'Time to restore one task’s window state from its changelog partition.',
    buckets: PAUSE_BUCKETS,
    registers,
  });
  const restoredRecords = new Counter({
    name: `${PREFIX}restored_records_total`,
    help: 'Changelog records read by restores.',
    labelNames: ['partition'],
    registers,
  });
  const restoreRemaining = new Gauge<'partition'>({
    name: `${PREFIX}restore_remaining_offsets`,
    help: 'Changelog offsets a running restore still has to read (only partitions restoring now).',
    labelNames: ['partition'],
    registers,
    collect: () => {
      restoreRemaining.reset();
      for (const [partition, { position, endOffset }] of restoring) {
        if (position !== null)
          restoreRemaining.set({ partition }, Number(endOffset > position ? endOffset - position : 0n));
      }
    },
  });
  const pendingRecords = new Map<number, number>();
  partitionGauge(
    registers,
    'pending_records',
    "Input records fetched and waiting for their partition's next commit (COMMIT_INTERVAL_MS, COMMIT_MAX_RECORDS).",
    pendingRecords,
  );
  partitionGauge(
    registers,
    'restore_unstable_changelog_offsets',
    'Changelog offsets between the last stable offset and the high watermark that a restore waits for (an open transaction on the changelog); only partitions waiting now.',
    unstable,
  );
  const breakerState = new Gauge<'partition' | 'state'>({
    name: `${PREFIX}circuit_breaker_state`,
    help: "Each assigned partition's circuit breaker: 1 for its current state (closed, half-open or open), 0 for the others.",
    labelNames: ['partition', 'state'],
    registers,
    collect: () => {
      breakerState.reset();
      for (const partition of assigned) {
        const current = breakers.get(partition) ?? 'closed';
        for (const state of BREAKER_STATES) breakerState.set({ partition, state }, state === current ? 1 : 0);
      }
    },
  });
  partitionGauge(
    registers,
    'quarantined_partition_offset',
    'Partitions paused by the crash-loop guard (only those): the offset of the record that crashed the process each time it was processed alone.',
    quarantinedAt,
  );
  const assignedPartitions: Gauge = new Gauge({
    name: `${PREFIX}assigned_partitions`,
    help: 'Input partitions assigned to this instance.',
    registers,
    collect: () => {
      assignedPartitions.set(assigned.length);
    },
  });

  if (sources.readiness) {
    const readiness = sources.readiness;
    const ready: Gauge = new Gauge({
      name: `${PREFIX}ready`,
      help: '1 when /readyz reports ready, else 0.',
      registers,
      collect: () => {
        ready.set(readiness().ready ? 1 : 0);
      },
    });
    const tasks = new Gauge<'phase'>({
      name: `${PREFIX}tasks`,
      help: 'Assigned partitions by task phase: initializing, restoring, running, quarantined (circuit breaker or crash-loop guard).',
      labelNames: ['phase'],
      registers,
      collect: () => {
        const counts = new Map<PartitionPhase, number>(PHASES.map((p) => [p, 0]));
        for (const { phase } of readiness().partitions) counts.set(phase, (counts.get(phase) ?? 0) + 1);
        for (const [phase, count] of counts) tasks.set({ phase }, count);
      },
    });
  }

  if (sources.watchdog) {
    const watchdog = sources.watchdog;
    const lag = sources.lag;
    const openAge = new Gauge<'partition'>({
      name: `${PREFIX}open_transaction_age_seconds`,
      help: 'Age of the transaction this instance has open on each partition (0: none open).',
      labelNames: ['partition'],
      registers,
      collect: () => {
        openAge.reset();
        const ages = watchdog.openTransactionAges();
        for (const partition of assigned) openAge.set({ partition }, (ages.get(partition) ?? 0) / 1000);
      },
    });
    const alerts = new Gauge<'partition' | 'check'>({
      name: `${PREFIX}watchdog_alert`,
      help: 'Watchdog findings per assigned partition: check="stalled" (lag but no progress for several commit intervals), check="long-transaction" (own transaction open past half the transaction timeout); 1 when raised.',
      labelNames: ['partition', 'check'],
      registers,
      collect: async () => {
        const snapshot = lag ? await lag() : undefined;
        const findings = watchdog.check(
          snapshot && {
            atMs: snapshot.atMs,
            records: new Map(snapshot.partitions.map((p) => [p.partition, p.lagRecords])),
          },
        );
        alerts.reset();
        for (const partition of assigned)
          for (const check of ['stalled', 'long-transaction'] as const) alerts.set({ partition, check }, 0);
        for (const finding of findings) alerts.set({ partition: finding.partition, check: finding.kind }, 1);
      },
    });
  }

  if (sources.lag && sources.identity) {
    attachLagMetrics(registers, sources.lag, sources.identity, now);
  }
  if (sources.lagLookupFailures) {
    const count = sources.lagLookupFailures;
    const lookupFailures: Counter = new Counter({
      name: `${PREFIX}lag_lookup_failures_total`,
      help: 'Lag lookups that failed or timed out (that scrape had no lag series).',
      registers,
      collect: () => {
        lookupFailures.reset();
        lookupFailures.inc(count());
      },
    });
  }

  const offs = [
    events.on('stage.assigned', ({ partitions }) => {
      rebalances.inc();
      assigned = [...partitions];
      const owned = new Set(partitions);
      for (const partition of [...breakers.keys()]) if (!owned.has(partition)) breakers.delete(partition);
      for (const partition of [...restoring.keys()]) if (!owned.has(partition)) restoring.delete(partition);
      for (const partition of [...quarantinedAt.keys()])
        if (!owned.has(partition)) quarantinedAt.delete(partition);
    }),
    events.on('partition.quarantined', ({ partition, offset }) => {
      quarantinedAt.set(partition, offset);
    }),
    events.on('stage.rebalanced', ({ pauseMs }) => {
      rebalancePause.observe(pauseMs / 1000);
    }),
    events.on('task.committed', ({ partition, inputRecords, rollups, durationMs }) => {
      abortPending.delete(partition);
      committed.inc({ partition });
      if (inputRecords > 0) recordsConsumed.inc({ partition }, inputRecords);
      if (rollups > 0) rollupsProduced.inc({ partition }, rollups);
      commitLatency.observe(durationMs / 1000);
      recordsPerTransaction.observe(inputRecords);
    }),
    events.on('record.dead_lettered', ({ partition, reason }) => {
      deadLetters.inc({ partition, reason });
    }),
    events.on('transaction.ended', ({ partition, outcome }) => {
      // The kind of an abort arrives with the task.aborted that follows it.
      if (outcome === 'aborted') abortPending.add(partition);
      if (outcome === 'abandoned') aborted.inc({ partition, reason: 'abandoned' });
    }),
    events.on('task.aborted', ({ partition, kind, code }) => {
      restoring.delete(partition);
      unstable.delete(partition);
      failures.inc({ partition, kind, code });
      if (abortPending.delete(partition)) aborted.inc({ partition, reason: kind });
    }),
    events.on('breaker.changed', ({ partition, state }) => {
      breakers.set(partition, state);
    }),
    events.on('task.closed', ({ partition }) => {
      // A new task for the partition starts with a closed breaker.
      breakers.delete(partition);
      restoring.delete(partition);
      unstable.delete(partition);
      quarantinedAt.delete(partition);
      pendingRecords.delete(partition);
    }),
    events.on('task.pending_changed', ({ partition, records }) => {
      if (records > 0) pendingRecords.set(partition, records);
      else pendingRecords.delete(partition);
    }),
    events.on('task.restore_progressed', ({ partition, position, endOffset }) => {
      unstable.delete(partition);
      restoring.set(partition, { position, endOffset });
    }),
    events.on('task.restore_waiting', ({ partition, stableOffset, highWatermark }) => {
      unstable.set(partition, highWatermark - stableOffset);
    }),
    events.on('task.restored', ({ partition, records, durationMs }) => {
      restoring.delete(partition);
      restoreDuration.observe(durationMs / 1000);
      if (records > 0) restoredRecords.inc({ partition }, records);
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** A gauge with one series per partition the map lists, and none for the others. */
function partitionGauge(
  registers: Registry[],
  name: string,
  help: string,
  values: ReadonlyMap<number, number | bigint>,
): void {
  const gauge = new Gauge<'partition'>({
    name: `${PREFIX}${name}`,
    help,
    labelNames: ['partition'],
    registers,
    collect: () => {
      gauge.reset();
      for (const [partition, value] of values) gauge.set({ partition }, Number(value));
    },
  });
}

/** kafka-lag-exporter's lag metrics, for this instance's partitions, computed at scrape time. */
function attachLagMetrics(
  registers: Registry[],
  lag: () => Promise<LagSnapshot | undefined>,
  identity: ConsumerIdentity,
  now: () => number,
): void {
  // prom-client starts every gauge's collect in one synchronous loop per scrape: they share one lag lookup and one
  // instant, so a scrape is consistent (the max equals the largest partition's value, to the millisecond). The
  // view is dropped at the next microtask, so the next scrape makes its own.
  let view: Promise<{ snapshot: LagSnapshot | undefined; nowMs: number }> | undefined;
  const scrapeView = () => {
    if (view === undefined) {
      view = lag().then((snapshot) => ({ snapshot, nowMs: now() }));
      queueMicrotask(() => {
        view = undefined;
      });
    }
    return view;
  };
  const partitionLabels = (clusterName: string, partition: number) => ({
    cluster_name: clusterName,
    group: identity.group,
    topic: identity.topic,
    partition,
    member_host: identity.memberHost,
    consumer_id: identity.consumerId,
    client_id: identity.clientId,
  });
  const groupLabels = (clusterName: string) => ({
    cluster_name: clusterName,
    group: identity.group,
    is_simple_consumer: 'false',
  });
  const offset = new Gauge<(typeof LAG_LABELS)[number]>({
    name: 'kafka_consumergroup_group_offset',
    help: "The group's committed offset (next to read) for this partition.",
    labelNames: LAG_LABELS,
    registers,
    collect: async () => {
      offset.reset();
      const { snapshot } = await scrapeView();
      for (const p of snapshot?.partitions ?? [])
        offset.set(partitionLabels(snapshot?.clusterName ?? '', p.partition), Number(p.position));
    },
  });
  const records = new Gauge<(typeof LAG_LABELS)[number]>({
    name: 'kafka_consumergroup_group_lag',
    help: "Lag in records: the partition's last stable offset minus the group's committed offset.",
    labelNames: LAG_LABELS,
    registers,
    collect: async () => {
      records.reset();
      const { snapshot } = await scrapeView();
      for (const p of snapshot?.partitions ?? [])
        records.set(partitionLabels(snapshot?.clusterName ?? '', p.partition), p.lagRecords);
    },
  });
  const seconds = new Gauge<(typeof LAG_LABELS)[number]>({
    name: 'kafka_consumergroup_group_lag_seconds',
    help: 'Lag in seconds: the age of the oldest record not yet committed (its timestamp read from the broker); 0 without lag.',
    labelNames: LAG_LABELS,
    registers,
    collect: async () => {
      seconds.reset();
      const { snapshot, nowMs } = await scrapeView();
      if (!snapshot) return;
      for (const p of snapshot.partitions) {
        const value = lagSecondsAt(p, nowMs);
        if (value !== undefined) seconds.set(partitionLabels(snapshot.clusterName, p.partition), value);
      }
    },
  });
  const retention = new Gauge<'topic'>({
    name: `${PREFIX}input_retention_seconds`,
    help: "The input topic's retention.ms in seconds (absent when infinite or not readable): lag in seconds past it means records deleted unread.",
    labelNames: ['topic'],
    registers,
    collect: async () => {
      retention.reset();
      const { snapshot } = await scrapeView();
      if (snapshot?.retentionMs != null)
        retention.set({ topic: identity.topic }, snapshot.retentionMs / 1000);
    },
  });
  const maxRecords = new Gauge<(typeof MAX_LAG_LABELS)[number]>({
    name: 'kafka_consumergroup_group_max_lag',
    help: "The largest lag in records among this instance's partitions.",
    labelNames: MAX_LAG_LABELS,
    registers,
    collect: async () => {
      maxRecords.reset();
      const { snapshot } = await scrapeView();
      if (!snapshot || snapshot.partitions.length === 0) return;
      const max = Math.max(0, ...snapshot.partitions.map((p) => p.lagRecords));
      maxRecords.set(groupLabels(snapshot.clusterName), max);
    },
  });
  const maxSeconds = new Gauge<(typeof MAX_LAG_LABELS)[number]>({
    name: 'kafka_consumergroup_group_max_lag_seconds',
    help: "The largest lag in seconds among this instance's partitions.",
    labelNames: MAX_LAG_LABELS,
    registers,
    collect: async () => {
      maxSeconds.reset();
      const { snapshot, nowMs } = await scrapeView();
      if (!snapshot || snapshot.partitions.length === 0) return;
      const values = snapshot.partitions.map((p) => lagSecondsAt(p, nowMs) ?? 0);
      maxSeconds.set(groupLabels(snapshot.clusterName), Math.max(0, ...values));
    },
  });
}
