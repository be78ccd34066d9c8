/** Decoded Avro ServerMetric (reader schema v2); field names as in the Avro schema. Longs are JS numbers. */
export interface ServerMetric {
  host: string;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  cpu_percent: number;
  mem_percent: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  /** Null for records written with schema v1, which lacks the field. */
  load_avg_1m: number | null;
}

/** One entry of the compacted inventory topic, keyed by host. */
export interface HostInfo {
  host: string;
  region: string;
  datacenter: string;
  role: string;
}

export interface Stats {
  min: number;
  max: number;
  sum: number;
  avg: number;
}

/** The final rollup of one host over one window [window_start, window_end); field names as in the Avro schema. */
export interface MetricRollup {
  host: string;
  region: string;
  datacenter: string;
  role: string;
  window_start: number;
  window_end: number;
  count: number;
  cpu_percent: Stats;
  mem_percent: Stats;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  first_event_time: number;
  last_event_time: number;
}
