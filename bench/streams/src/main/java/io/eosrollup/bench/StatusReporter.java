package io.eosrollup.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

/**
 * One JSON object per line on stdout for the bench harness; logs go to stderr. Thread-level Streams metrics are
 * summed over stream threads (averages: the mean over threads that have one).
 */
final class StatusReporter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String THREAD_GROUP = "stream-thread-metrics";

  private final PrintStream out;
  private final KafkaStreams streams;
  private final Counters counters;
  private final CommitTimingClientSupplier commits;

  StatusReporter(PrintStream out, KafkaStreams streams, Counters counters, CommitTimingClientSupplier commits) {
    this.out = out;
    this.streams = streams;
    this.counters = counters;
    this.commits = commits;
  }

  void event(String name, String detail) {
    ObjectNode line = JSON.createObjectNode().put("event", name).put("ts", System.currentTimeMillis());
    if (detail != null) line.put("detail", detail);
    print(line);
  }

  /**
   * Last seen totals per stream thread: a thread's metrics vanish when it shuts down, and the harness reads the
   * final line after SIGTERM, so totals must not drop back to zero then.
   */
  private final Map<String, Double> processTotals = new HashMap<>();

  private final Map<String, Double> commitTotals = new HashMap<>();

  synchronized void status() {
    double avgSum = 0;
    int avgCount = 0;
    double max = Double.NaN;
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      MetricName name = e.getKey();
      if (!THREAD_GROUP.equals(name.group())) continue;
      Object value = e.getValue().metricValue();
      if (!(value instanceof Double v) || v.isNaN()) continue;
      switch (name.name()) {
        case "process-total" -> processTotals.put(name.tags().get("thread-id"), v);
        case "commit-total" -> commitTotals.put(name.tags().get("thread-id"), v);
        case "commit-latency-avg" -> {
          avgSum += v;
          avgCount++;
        }
        case "commit-latency-max" -> max = Double.isNaN(max) ? v : Math.max(max, v);
        default -> {}
      }
    }
    double records = processTotals.values().stream().mapToDouble(Double::doubleValue).sum();
    double commitTotal = commitTotals.values().stream().mapToDouble(Double::doubleValue).sum();
    ObjectNode line =
        JSON.createObjectNode()
            .put("ts", System.currentTimeMillis())
            .put("state", streams.state().name())
            .put("records", (long) records);
    number(line, "commitLatencyAvgMs", avgCount == 0 ? Double.NaN : avgSum / avgCount);
    number(line, "commitLatencyMaxMs", max);
    line.put("commitTotal", (long) commitTotal);
    ArrayNode txn = line.putArray("txnCommitMs");
    List<Double> latencies = commits.drain();
    for (double ms : latencies) txn.add(Math.round(ms * 1000) / 1000.0);
    line.put("decoded", counters.decoded.sum())
        .put("skipped", counters.skipped.sum())
        .put("inventorySkipped", counters.inventorySkipped.sum())
        .put("rollups", counters.rollups.sum());
    print(line);
  }

  private static void number(ObjectNode line, String field, double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) line.putNull(field);
    else line.put(field, Math.round(value * 1000) / 1000.0);
  }

  private synchronized void print(ObjectNode line) {
    out.println(line.toString());
    out.flush();
  }
}
