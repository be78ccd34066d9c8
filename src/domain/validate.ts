import type { Poison } from './dead-letter.js';
import type { ServerMetric } from './metric.js';

/** Fixed bounds, not "now ± x": a replay of the same input must reach the same verdict. */
export const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
export const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1);

const PERCENT_FIELDS = ['cpu_percent', 'mem_percent'] as const;
const COUNTER_FIELDS = ['disk_read_bytes', 'disk_write_bytes', 'net_rx_bytes', 'net_tx_bytes'] as const;

/**
 * Whether the metric breaks no rule of `validateMetric`, every field read by name. The rules below read fields by
 * a computed name, which boxed each double read: about 100 bytes of garbage per record, for the one answer
 * nearly every record gets. A percent within [0, 100] is finite; NaN fails every comparison.
 */
function breaksNoRule(m: ServerMetric): boolean {
  const { cpu_percent: cpu, mem_percent: mem, load_avg_1m: load, timestamp } = m;
  return (
    cpu >= 0 &&
    cpu <= 100 &&
    mem >= 0 &&
    mem <= 100 &&
    (load === null || Number.isFinite(load)) &&
    Number.isSafeInteger(m.disk_read_bytes) &&
    m.disk_read_bytes >= 0 &&
    Number.isSafeInteger(m.disk_write_bytes) &&
    m.disk_write_bytes >= 0 &&
    Number.isSafeInteger(m.net_rx_bytes) &&
    m.net_rx_bytes >= 0 &&
    Number.isSafeInteger(m.net_tx_bytes) &&
    m.net_tx_bytes >= 0 &&
    Number.isSafeInteger(timestamp) &&
    timestamp >= MIN_TIMESTAMP_MS &&
    timestamp <= MAX_TIMESTAMP_MS &&
    m.host.trim() !== ''
  );
}

/** Returns the first rule the metric breaks, or null when it may be aggregated. Never reads the clock. */
export function validateMetric(m: ServerMetric): Poison | null {
  if (breaksNoRule(m)) return null;
  if (m.host.trim() === '') {
    return { reason: 'empty-host', message: `host is empty: ${JSON.stringify(m.host)}` };
  }
  for (const field of PERCENT_FIELDS) {
    if (!Number.isFinite(m[field])) {
      return { reason: 'non-finite-value', message: `${field} is not finite: ${m[field]}` };
    }
  }
  if (m.load_avg_1m !== null && !Number.isFinite(m.load_avg_1m)) {
    return { reason: 'non-finite-value', message: `load_avg_1m is not finite: ${m.load_avg_1m}` };
  }
  for (const field of PERCENT_FIELDS) {
    if (m[field] < 0 || m[field] > 100) {
      return { reason: 'percent-out-of-range', message: `${field} is outside [0, 100]: ${m[field]}` };
    }
  }
  for (const field of COUNTER_FIELDS) {
    // Sums of unsafe integers lose precision, so they are as unusable as negative ones.
    if (!Number.isSafeInteger(m[field]) || m[field] < 0) {
      return {
        reason: 'negative-counter',
        message: `${field} is not a non-negative safe integer: ${m[field]}`,
      };
    }
  }
  if (
    !Number.isSafeInteger(m.timestamp) ||
    m.timestamp < MIN_TIMESTAMP_MS ||
    m.timestamp > MAX_TIMESTAMP_MS
  ) {
    return {
      reason: 'timestamp-out-of-range',
      message: `timestamp is outside [2000-01-01, 2100-01-01] (ms ${MIN_TIMESTAMP_MS}..${MAX_TIMESTAMP_MS}): ${m.timestamp}`,
    };
  }
  return null;
}
