import type { MetricRollup, ServerMetric, Stats } from './metric.js';
import { windowEndFor } from './window.js';

export interface Enrichment {
  region: string;
  datacenter: string;
  role: string;
}

export interface MinMaxSum {
  min: number;
  max: number;
  sum: number;
}

/** The running state of one (host, window); avg is derived at emit time so no rounding accumulates. */
export interface WindowAggregate {
  host: string;
  windowStart: number;
  count: number;
  cpu: MinMaxSum;
  mem: MinMaxSum;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  first_event_time: number;
  last_event_time: number;
  /** Of the latest record accumulated, so an inventory change shows up in the window it happened in. */
  enrichment: Enrichment;
}

/** The aggregate of one record alone. Sums start from 0, as folding into an empty window always did (0 + -0 is 0). */
function first(m: ServerMetric, windowStart: number, enrichment: Enrichment): WindowAggregate {
  return {
    host: m.host,
    windowStart,
    count: 1,
    cpu: { min: m.cpu_percent, max: m.cpu_percent, sum: m.cpu_percent },
    mem: { min: m.mem_percent, max: m.mem_percent, sum: m.mem_percent },
    disk_read_bytes: 0 + m.disk_read_bytes,
    disk_write_bytes: 0 + m.disk_write_bytes,
    net_rx_bytes: 0 + m.net_rx_bytes,
    net_tx_bytes: 0 + m.net_tx_bytes,
    first_event_time: m.timestamp,
    last_event_time: m.timestamp,
    enrichment: { region: enrichment.region, datacenter: enrichment.datacenter, role: enrichment.role },
  };
}

/**
 * A copy whose own parts (the aggregate, cpu, mem) can be folded into. The enrichment is shared: no aggregate
 * ever changes its enrichment object, `accumulateInPlace` replaces it.
 */
function copy(agg: WindowAggregate): WindowAggregate {
  return {
    host: agg.host,
    windowStart: agg.windowStart,
    count: agg.count,
    cpu: { min: agg.cpu.min, max: agg.cpu.max, sum: agg.cpu.sum },
    mem: { min: agg.mem.min, max: agg.mem.max, sum: agg.mem.sum },
    disk_read_bytes: agg.disk_read_bytes,
    disk_write_bytes: agg.disk_write_bytes,
    net_rx_bytes: agg.net_rx_bytes,
    net_tx_bytes: agg.net_tx_bytes,
    first_event_time: agg.first_event_time,
    last_event_time: agg.last_event_time,
    enrichment: agg.enrichment,
  };
}

/** Returns a NEW aggregate (never mutates prev): committed state must stay intact until a Kafka commit succeeds. */
export function accumulate(
  prev: WindowAggregate | undefined,
  m: ServerMetric,
  windowStart: number,
  enrichment: Enrichment,
): WindowAggregate {
  if (prev === undefined) return first(m, windowStart, enrichment);
  if (prev.host !== m.host || prev.windowStart !== windowStart) {
    throw new RangeError(
      `cannot fold host ${JSON.stringify(m.host)} window ${windowStart} into host ${JSON.stringify(prev.host)} window ${prev.windowStart}`,
    );
  }
  const next = copy(prev);
  accumulateInPlace(next, m, enrichment);
  return next;
}

function foldInPlace(into: MinMaxSum, value: number): void {
  into.min = Math.min(into.min, value);
  into.max = Math.max(into.max, value);
  into.sum += value;
}

/**
 * Folds `m` into `agg` itself: the one statement of the fold, which `accumulate` applies to its copy. Only for an
 * aggregate that its store transaction created and nobody else holds (WindowTable.getOwn): a committed aggregate
 * must stay intact until a Kafka commit succeeds, and goes through `accumulate`. The first record of a window in
 * a transaction copies it; its later records in that transaction then allocate nothing.
 */
export function accumulateInPlace(agg: WindowAggregate, m: ServerMetric, enrichment: Enrichment): void {
  if (agg.host !== m.host) {
    throw new RangeError(`cannot fold host ${JSON.stringify(m.host)} into host ${JSON.stringify(agg.host)}`);
  }
  agg.count += 1;
  foldInPlace(agg.cpu, m.cpu_percent);
  foldInPlace(agg.mem, m.mem_percent);
  agg.disk_read_bytes += m.disk_read_bytes;
  agg.disk_write_bytes += m.disk_write_bytes;
  agg.net_rx_bytes += m.net_rx_bytes;
  agg.net_tx_bytes += m.net_tx_bytes;
  agg.first_event_time = Math.min(agg.first_event_time, m.timestamp);
  agg.last_event_time = Math.max(agg.last_event_time, m.timestamp);
  const held = agg.enrichment;
  if (
    held.region !== enrichment.region ||
    held.datacenter !== enrichment.datacenter ||
    held.role !== enrichment.role
  ) {
    agg.enrichment = { region: enrichment.region, datacenter: enrichment.datacenter, role: enrichment.role };
  }
}

function stats(s: MinMaxSum, count: number): Stats {
  return { min: s.min, max: s.max, sum: s.sum, avg: s.sum / count };
}

export function toRollup(agg: WindowAggregate, sizeMs: number): MetricRollup {
  return {
    host: agg.host,
    region: agg.enrichment.region,
    datacenter: agg.enrichment.datacenter,
    role: agg.enrichment.role,
    window_start: agg.windowStart,
    window_end: windowEndFor(agg.windowStart, sizeMs),
    count: agg.count,
    cpu_percent: stats(agg.cpu, agg.count),
    mem_percent: stats(agg.mem, agg.count),
    disk_read_bytes: agg.disk_read_bytes,
    disk_write_bytes: agg.disk_write_bytes,
    net_rx_bytes: agg.net_rx_bytes,
    net_tx_bytes: agg.net_tx_bytes,
    first_event_time: agg.first_event_time,
    last_event_time: agg.last_event_time,
  };
}
