package io.eosrollup.bench;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The stage's semantics (design §5, §6) in the Streams DSL: enrich from the inventory, group by host (the input
 * key), tumbling event-time windows with grace, aggregate, suppress until the window closes, one MetricRollup per
 * (host, window) to the output topic.
 */
final class RollupTopology {
  /** Names the window store, hence its changelog topic `<APP_ID>-streams-rollup-state-changelog`. */
  static final String STATE_STORE = "streams-rollup-state";

  static final String INVENTORY_STORE = "streams-rollup-inventory";

  private record Enriched(ServerMetric metric, Enrichment enrichment) {}

  /**
   * Event time is the record's `timestamp` field. A value the deserializer dropped (null) keeps the partition's
   * time, so it never moves stream time, as in the stage; the topology filters it out right after the source.
   * Before a partition has a time (-1), Kafka Streams itself drops such a record with a warning.
   */
  static final TimestampExtractor EVENT_TIME =
      (record, partitionTime) -> record.value() instanceof ServerMetric m ? m.timestamp() : partitionTime;

  /** The input is only ever read; Serdes.serdeFrom wants a serializer all the same. */
  private static final Serializer<ServerMetric> READ_ONLY =
      (topic, value) -> {
        throw new UnsupportedOperationException("the bench never writes ServerMetric records");
      };

  private RollupTopology() {}

  /**
   * Windowed aggregate to (host, MetricRollup bytes), stamped with the wall-clock time of emission as the stage's
   * records are. Kafka Streams would otherwise carry the window's event time, which is far in the past for a
   * replayed workload: the output topic's time-based retention would delete rollups soon after they are written.
   */
  private static final class ToRollup implements Processor<Windowed<String>, WindowAggregate, String, byte[]> {
    private final RollupEncoder encoder;
    private ProcessorContext<String, byte[]> context;

    ToRollup(RollupEncoder encoder) {
      this.encoder = encoder;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
      this.context = context;
    }

    @Override
    public void process(Record<Windowed<String>, WindowAggregate> record) {
      Windowed<String> window = record.key();
      byte[] rollup =
          encoder.encode(window.key(), window.window().start(), window.window().end(), record.value());
      context.forward(new Record<>(window.key(), rollup, System.currentTimeMillis(), record.headers()));
    }
  }

  static Topology build(Settings settings, SchemaRegistry registry, int rollupSchemaId, Counters counters) {
    StreamsBuilder builder = new StreamsBuilder();

    Serde<Enrichment> hostInfo = Enrichment.serde(registry, counters);
    GlobalKTable<String, Enrichment> inventory =
        builder.globalTable(
            settings.inventoryTopic(),
            Consumed.with(Serdes.String(), hostInfo).withName("inventory-source"),
            Materialized.<String, Enrichment, KeyValueStore<Bytes, byte[]>>as(INVENTORY_STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(hostInfo));

    Serde<ServerMetric> serverMetric =
        Serdes.serdeFrom(READ_ONLY, new ServerMetricDeserializer(registry, counters));
    KStream<String, ServerMetric> metrics =
        builder.stream(
            settings.inputTopic(),
            Consumed.with(Serdes.String(), serverMetric)
                .withTimestampExtractor(EVENT_TIME)
                .withName("metrics-source"));

    RollupEncoder encoder = new RollupEncoder(rollupSchemaId, counters);
    metrics
        .filter((host, metric) -> host != null && metric != null, Named.as("drop-skipped"))
        .leftJoin(
            inventory,
            (host, metric) -> host,
            (metric, info) -> new Enriched(metric, info == null ? Enrichment.UNKNOWN : info),
            Named.as("enrich"))
        .groupByKey(Grouped.<String, Enriched>as("by-host").withKeySerde(Serdes.String()))
        .windowedBy(
            TimeWindows.ofSizeAndGrace(
                Duration.ofMillis(settings.windowMs()), Duration.ofMillis(settings.graceMs())))
        .aggregate(
            WindowAggregate::new,
            (host, e, aggregate) -> aggregate.add(e.metric(), e.enrichment()),
            Named.as("rollup"),
            Materialized.<String, WindowAggregate, WindowStore<Bytes, byte[]>>as(STATE_STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(WindowAggregate.serde()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("until-closed"))
        .toStream(Named.as("closed-windows"))
        .process(() -> new ToRollup(encoder), Named.as("to-rollup"))
        .to(settings.outputTopic(), Produced.with(Serdes.String(), Serdes.ByteArray()).withName("rollup-sink"));

    return builder.build();
  }
}
