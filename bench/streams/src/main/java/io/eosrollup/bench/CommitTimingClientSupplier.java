package io.eosrollup.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.processor.internals.DefaultKafkaClientSupplier;

/**
 * Kafka Streams' own clients, except that each producer times every transaction commit: from
 * sendOffsetsToTransaction to the end of commitTransaction, which is what Streams' StreamsProducer calls back
 * to back once a thread's tasks have flushed. That span covers the offsets round trip, the wait for the output
 * and changelog sends still in flight, and EndTxn; it leaves out the cache and store flush that precede it
 * (Streams' own thread-level commit-latency includes those).
 */
final class CommitTimingClientSupplier extends DefaultKafkaClientSupplier {
  private final ConcurrentLinkedQueue<Double> latenciesMs = new ConcurrentLinkedQueue<>();

  @Override
  public Producer<byte[], byte[]> getProducer(Map<String, Object> config) {
    return new TimedProducer(config, latenciesMs);
  }

  /** The commit latencies (ms) measured since the previous call. */
  List<Double> drain() {
    List<Double> out = new ArrayList<>();
    for (Double v; (v = latenciesMs.poll()) != null; ) out.add(v);
    return out;
  }

  private static final class TimedProducer extends KafkaProducer<byte[], byte[]> {
    private final ConcurrentLinkedQueue<Double> sink;
    /** Only the owning stream thread commits through this producer; 0 means no commit in progress. */
    private long commitStartNanos;

    TimedProducer(Map<String, Object> config, ConcurrentLinkedQueue<Double> sink) {
      super(config, new ByteArraySerializer(), new ByteArraySerializer());
      this.sink = sink;
    }

    @Override
    public void sendOffsetsToTransaction(
        Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata groupMetadata) {
      if (commitStartNanos == 0) commitStartNanos = System.nanoTime();
      super.sendOffsetsToTransaction(offsets, groupMetadata);
    }

    @Override
    public void commitTransaction() {
      long start = commitStartNanos != 0 ? commitStartNanos : System.nanoTime();
      commitStartNanos = 0;
      super.commitTransaction();
      sink.add((System.nanoTime() - start) / 1e6);
    }

    @Override
    public void abortTransaction() {
      commitStartNanos = 0;
      super.abortTransaction();
    }
  }
}
