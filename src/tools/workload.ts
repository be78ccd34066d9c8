/**
 * A deterministic ServerMetric workload: the same seed gives the same records, so a test can compute the
 * expected rollups offline and the load generator can reproduce a run. Pure: no I/O, no clock.
 */
import type { ServerMetric } from '../domain/metric.js';

/** mulberry32: small, fast, good enough to spread test data; not for anything secret. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const POISON_KINDS = [
  'garbage-bytes',
  'wrong-magic-byte',
  'unknown-schema-id',
  'truncated-avro',
  'empty-host',
  'nan-value',
  'percent-out-of-range',
  'negative-counter',
  'null-value',
] as const;
export type PoisonKind = (typeof POISON_KINDS)[number];

export interface WorkloadOptions {
  hosts: number;
  /** Event time of the first record. */
  startMs: number;
  /** Event-time distance between consecutive records of one host. */
  stepMs: number;
  /** Records per host. */
  perHost: number;
  seed: number;
}

export function hostName(index: number): string {
  return `host-${String(index).padStart(5, '0')}`;
}

export type MetricReadings = Pick<
  ServerMetric,
  'cpu_percent' | 'mem_percent' | 'disk_read_bytes' | 'disk_write_bytes' | 'net_rx_bytes' | 'net_tx_bytes'
>;

/** A metric's readings drawn from `random`, in a fixed order (a seeded workload stays the same). */
export function randomReadings(random: () => number): MetricReadings {
  return {
    cpu_percent: Math.round(random() * 10000) / 100,
    mem_percent: Math.round(random() * 10000) / 100,
    disk_read_bytes: Math.floor(random() * 1_000_000),
    disk_write_bytes: Math.floor(random() * 1_000_000),
    net_rx_bytes: Math.floor(random() * 10_000_000),
    net_tx_bytes: Math.floor(random() * 10_000_000),
  };
}

/** Valid metrics in event-time order per host, interleaved across hosts. */
export function* metrics(options: WorkloadOptions): Generator<ServerMetric> {
  const random = seededRandom(options.seed);
  for (let step = 0; step < options.perHost; step++) {
    for (let h = 0; h < options.hosts; h++) {
      yield {
        host: hostName(h),
        timestamp:
          options.startMs + step * options.stepMs + Math.floor(random() * Math.min(options.stepMs, 1000)),
        ...randomReadings(random),
        load_avg_1m: random() < 0.5 ? null : Math.round(random() * 800) / 100,
      };
    }
  }
}
