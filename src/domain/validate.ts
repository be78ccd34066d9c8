import type { Poison } from './dead-letter.js';
import type { ServerMetric } from './metric.js';

/** Fixed bounds, not "now ± x": a replay of the same input must reach the same verdict. */
export const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
export const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1);

type PercentField = 'cpu_percent' | 'mem_percent';
type CounterField = 'disk_read_bytes' | 'disk_write_bytes' | 'net_rx_bytes' | 'net_tx_bytes';

function notFinite(field: PercentField | 'load_avg_1m', value: number): Poison {
  return { reason: 'non-finite-value', message: `${field} is not finite: ${value}` };
}

function outsidePercent(field: PercentField, value: number): Poison {
  return { reason: 'percent-out-of-range', message: `${field} is outside [0, 100]: ${value}` };
}

/** Sums of unsafe integers lose precision, so they are as unusable as negative ones. */
function isCounter(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function notCounter(field: CounterField, value: number): Poison {
  return { reason: 'negative-counter', message: `${field} is not a non-negative safe integer: ${value}` };
}

/**
 * Returns the first rule the metric breaks, or null when it may be aggregated. Never reads the clock. Every field
 * is read by its name: read through a computed name, each double was boxed, about 100 bytes of garbage per record.
 * A percent within [0, 100] is finite; NaN fails every comparison.
 */
export function validateMetric(m: ServerMetric): Poison | null {
  if (m.host.trim() === '') {
    return { reason: 'empty-host', message: `host is empty: ${JSON.stringify(m.host)}` };
  }
  const { cpu_percent: cpu, mem_percent: mem, load_avg_1m: load, timestamp } = m;
  if (!Number.isFinite(cpu)) return notFinite('cpu_percent', cpu);
  if (!Number.isFinite(mem)) return notFinite('mem_percent', mem);
  if (load !== null && !Number.isFinite(load)) return notFinite('load_avg_1m', load);
  if (cpu < 0 || cpu > 100) return outsidePercent('cpu_percent', cpu);
  if (mem < 0 || mem > 100) return outsidePercent('mem_percent', mem);
  if (!isCounter(m.disk_read_bytes)) return notCounter('disk_read_bytes', m.disk_read_bytes);
  if (!isCounter(m.disk_write_bytes)) return notCounter('disk_write_bytes', m.disk_write_bytes);
  if (!isCounter(m.net_rx_bytes)) return notCounter('net_rx_bytes', m.net_rx_bytes);
  if (!isCounter(m.net_tx_bytes)) return notCounter('net_tx_bytes', m.net_tx_bytes);
  if (!Number.isSafeInteger(timestamp) || timestamp < MIN_TIMESTAMP_MS || timestamp > MAX_TIMESTAMP_MS) {
    return {
      reason: 'timestamp-out-of-range',
      message: `timestamp is outside [2000-01-01, 2100-01-01] (ms ${MIN_TIMESTAMP_MS}..${MAX_TIMESTAMP_MS}): ${timestamp}`,
    };
  }
  return null;
}
