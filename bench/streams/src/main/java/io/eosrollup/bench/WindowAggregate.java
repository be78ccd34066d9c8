package io.eosrollup.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The running state of one (host, window), as in the stage's src/domain/aggregate.ts: avg is derived when the
 * rollup is emitted, and the enrichment is the latest record's. Mutable: Kafka Streams hands the aggregator a
 * freshly deserialized copy on every update.
 */
final class WindowAggregate {
  long count;
  double cpuMin;
  double cpuMax;
  double cpuSum;
  double memMin;
  double memMax;
  double memSum;
  long diskReadBytes;
  long diskWriteBytes;
  long netRxBytes;
  long netTxBytes;
  long firstEventTime;
  long lastEventTime;
  String region = "";
  String datacenter = "";
  String role = "";

  WindowAggregate add(ServerMetric m, Enrichment e) {
    if (count == 0) {
      cpuMin = cpuMax = m.cpuPercent();
      memMin = memMax = m.memPercent();
      firstEventTime = lastEventTime = m.timestamp();
    } else {
      cpuMin = Math.min(cpuMin, m.cpuPercent());
      cpuMax = Math.max(cpuMax, m.cpuPercent());
      memMin = Math.min(memMin, m.memPercent());
      memMax = Math.max(memMax, m.memPercent());
      firstEventTime = Math.min(firstEventTime, m.timestamp());
      lastEventTime = Math.max(lastEventTime, m.timestamp());
    }
    count++;
    cpuSum += m.cpuPercent();
    memSum += m.memPercent();
    diskReadBytes += m.diskReadBytes();
    diskWriteBytes += m.diskWriteBytes();
    netRxBytes += m.netRxBytes();
    netTxBytes += m.netTxBytes();
    region = e.region();
    datacenter = e.datacenter();
    role = e.role();
    return this;
  }

  /** A fixed binary layout for the window store and its changelog: 13 numbers, then three strings. */
  static Serde<WindowAggregate> serde() {
    Serializer<WindowAggregate> serializer =
        (topic, a) -> {
          if (a == null) return null;
          byte[] region = a.region.getBytes(StandardCharsets.UTF_8);
          byte[] datacenter = a.datacenter.getBytes(StandardCharsets.UTF_8);
          byte[] role = a.role.getBytes(StandardCharsets.UTF_8);
          ByteBuffer b = ByteBuffer.allocate(13 * 8 + 3 * 4 + region.length + datacenter.length + role.length);
          b.putLong(a.count);
          b.putDouble(a.cpuMin).putDouble(a.cpuMax).putDouble(a.cpuSum);
          b.putDouble(a.memMin).putDouble(a.memMax).putDouble(a.memSum);
          b.putLong(a.diskReadBytes).putLong(a.diskWriteBytes).putLong(a.netRxBytes).putLong(a.netTxBytes);
          b.putLong(a.firstEventTime).putLong(a.lastEventTime);
          b.putInt(region.length).put(region);
          b.putInt(datacenter.length).put(datacenter);
          b.putInt(role.length).put(role);
          return b.array();
        };
    Deserializer<WindowAggregate> deserializer =
        (topic, data) -> {
          if (data == null) return null;
          ByteBuffer b = ByteBuffer.wrap(data);
          WindowAggregate a = new WindowAggregate();
          a.count = b.getLong();
          a.cpuMin = b.getDouble();
          a.cpuMax = b.getDouble();
          a.cpuSum = b.getDouble();
          a.memMin = b.getDouble();
          a.memMax = b.getDouble();
          a.memSum = b.getDouble();
          a.diskReadBytes = b.getLong();
          a.diskWriteBytes = b.getLong();
          a.netRxBytes = b.getLong();
          a.netTxBytes = b.getLong();
          a.firstEventTime = b.getLong();
          a.lastEventTime = b.getLong();
          a.region = string(b);
          a.datacenter = string(b);
          a.role = string(b);
          return a;
        };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  private static String string(ByteBuffer b) {
    byte[] bytes = new byte[b.getInt()];
    b.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
