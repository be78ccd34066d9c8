package io.eosrollup.bench;

import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A host's region, datacenter and role from the inventory's HostInfo. It keeps the wire bytes it came from:
 * the global store holds the topic's bytes as they are (restore copies them), so serializing must give them back.
 */
record Enrichment(String region, String datacenter, String role, byte[] wire) {
  /** design §6: an unknown host is explicit in the output, not a poison pill. */
  static final Enrichment UNKNOWN = new Enrichment("unknown", "unknown", "unknown", null);

  static Serde<Enrichment> serde(SchemaRegistry registry, Counters counters) {
    WireFormatReader reader = new WireFormatReader(registry, Schemas.HOST_INFO);
    Serializer<Enrichment> serializer = (topic, value) -> value == null ? null : value.wire();
    Deserializer<Enrichment> deserializer =
        (topic, data) -> {
          if (data == null) return null;
          try {
            GenericRecord r = reader.read(data);
            return new Enrichment(
                r.get("region").toString(), r.get("datacenter").toString(), r.get("role").toString(), data);
          } catch (WireFormatReader.Undecodable e) {
            counters.inventorySkipped.increment();
            return null;
          }
        };
    return Serdes.serdeFrom(serializer, deserializer);
  }
}
