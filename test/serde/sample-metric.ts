import type { ServerMetric } from '../../src/domain/metric.js';

/** One valid ServerMetric v2, for tests that need a record to encode and care about none of its values. */
export const SAMPLE_METRIC: ServerMetric = {
  host: 'web-1',
  timestamp: Date.UTC(2026, 0, 1, 12, 0, 5),
  cpu_percent: 12.5,
  mem_percent: 40,
  disk_read_bytes: 1000,
  disk_write_bytes: 2000,
  net_rx_bytes: 3000,
  net_tx_bytes: 4000,
  load_avg_1m: 0.5,
};
