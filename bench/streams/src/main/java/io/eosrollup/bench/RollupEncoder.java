package io.eosrollup.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;

/** A closed window's aggregate as a MetricRollup in Confluent wire format under the id registered at start. */
final class RollupEncoder {
  private static final Schema ROLLUP = Schemas.METRIC_ROLLUP;
  private static final Schema STATS = ROLLUP.getField("cpu_percent").schema();

  private final int schemaId;
  private final Counters counters;
  private final GenericDatumWriter<GenericRecord> writer = new GenericDatumWriter<>(ROLLUP);

  RollupEncoder(int schemaId, Counters counters) {
    this.schemaId = schemaId;
    this.counters = counters;
  }

  byte[] encode(String host, long windowStart, long windowEnd, WindowAggregate a) {
    GenericRecord r = new GenericData.Record(ROLLUP);
    r.put("host", host);
    r.put("region", a.region);
    r.put("datacenter", a.datacenter);
    r.put("role", a.role);
    r.put("window_start", windowStart);
    r.put("window_end", windowEnd);
    r.put("count", a.count);
    r.put("cpu_percent", stats(a.cpuMin, a.cpuMax, a.cpuSum, a.count));
    r.put("mem_percent", stats(a.memMin, a.memMax, a.memSum, a.count));
    r.put("disk_read_bytes", a.diskReadBytes);
    r.put("disk_write_bytes", a.diskWriteBytes);
    r.put("net_rx_bytes", a.netRxBytes);
    r.put("net_tx_bytes", a.netTxBytes);
    r.put("first_event_time", a.firstEventTime);
    r.put("last_event_time", a.lastEventTime);

    ByteArrayOutputStream out = new ByteArrayOutputStream(192);
    out.write(0);
    out.write(schemaId >>> 24);
    out.write(schemaId >>> 16);
    out.write(schemaId >>> 8);
    out.write(schemaId);
    BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
    try {
      writer.write(r, encoder);
      encoder.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    counters.rollups.increment();
    return out.toByteArray();
  }

  private static GenericRecord stats(double min, double max, double sum, long count) {
    GenericRecord s = new GenericData.Record(STATS);
    s.put("min", min);
    s.put("max", max);
    s.put("sum", sum);
    s.put("avg", sum / count);
    return s;
  }
}
