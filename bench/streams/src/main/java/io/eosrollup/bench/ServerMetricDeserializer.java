package io.eosrollup.bench;

import org.apache.kafka.common.serialization.Deserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Input values to ServerMetric, or null for anything the stage would dead-letter (null value, bad header,
 * unknown or incompatible schema id, undecodable Avro, failed validation). The topology drops nulls; an
 * unreachable registry still throws, since skipping would lose data.
 */
final class ServerMetricDeserializer implements Deserializer<ServerMetric> {
  private static final Logger LOG = LoggerFactory.getLogger(ServerMetricDeserializer.class);

  private final WireFormatReader reader;
  private final Counters counters;

  ServerMetricDeserializer(SchemaRegistry registry, Counters counters) {
    this.reader = new WireFormatReader(registry, Schemas.SERVER_METRIC);
    this.counters = counters;
  }

  @Override
  public ServerMetric deserialize(String topic, byte[] data) {
    if (data == null) return skip(topic, "null-value");
    ServerMetric metric;
    try {
      metric = ServerMetric.from(reader.read(data));
    } catch (WireFormatReader.Undecodable e) {
      return skip(topic, e.problem + ": " + e.getMessage());
    }
    String problem = metric.problem();
    if (problem != null) return skip(topic, problem);
    counters.decoded.increment();
    return metric;
  }

  private ServerMetric skip(String topic, String why) {
    counters.skipped.increment();
    if (LOG.isDebugEnabled()) LOG.debug("skipping a record of {}: {}", topic, why);
    return null;
  }
}
