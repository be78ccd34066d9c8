package io.eosrollup.bench;

import org.apache.avro.generic.GenericRecord;

/** A decoded ServerMetric, read with schema v2 (load_avg_1m is null for v1 writers). */
record ServerMetric(
    String host,
    long timestamp,
    double cpuPercent,
    double memPercent,
    long diskReadBytes,
    long diskWriteBytes,
    long netRxBytes,
    long netTxBytes,
    Double loadAvg1m) {

  /** design §4 bounds (2000-01-01 and 2100-01-01 UTC), fixed rather than clock-relative: replays decide alike. */
  static final long MIN_TIMESTAMP_MS = 946_684_800_000L;

  static final long MAX_TIMESTAMP_MS = 4_102_444_800_000L;

  /** The stage keeps counters as JS numbers: anything past 2^53 - 1 is as unusable as a negative one. */
  static final long MAX_SAFE_INTEGER = (1L << 53) - 1;

  static ServerMetric from(GenericRecord r) {
    Object load = r.get(8);
    return new ServerMetric(
        r.get(0).toString(),
        (Long) r.get(1),
        (Double) r.get(2),
        (Double) r.get(3),
        (Long) r.get(4),
        (Long) r.get(5),
        (Long) r.get(6),
        (Long) r.get(7),
        (Double) load);
  }

  /** The stage's validation rules (src/domain/validate.ts): null when the metric may be aggregated. */
  String problem() {
    if (host.strip().isEmpty()) return "empty-host";
    if (!Double.isFinite(cpuPercent) || !Double.isFinite(memPercent)) return "non-finite-value";
    if (loadAvg1m != null && !Double.isFinite(loadAvg1m)) return "non-finite-value";
    if (cpuPercent < 0 || cpuPercent > 100 || memPercent < 0 || memPercent > 100) return "percent-out-of-range";
    if (!counter(diskReadBytes) || !counter(diskWriteBytes) || !counter(netRxBytes) || !counter(netTxBytes)) {
      return "negative-counter";
    }
    if (timestamp < MIN_TIMESTAMP_MS || timestamp > MAX_TIMESTAMP_MS) return "timestamp-out-of-range";
    return null;
  }

  private static boolean counter(long value) {
    return value >= 0 && value <= MAX_SAFE_INTEGER;
  }
}
