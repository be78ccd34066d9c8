package io.eosrollup.bench;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * S1 of the side-by-side benchmark: the eos-rollup topology on Kafka Streams with exactly_once_v2. Settings come
 * from the stage's environment variables; stdout carries JSON status lines (see bench/streams/README.md).
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 failure while running, 2 failure at start, 3 bad configuration.
 */
public final class StreamsRollup {
  private static final PrintStream STDOUT =
      new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);

  private StreamsRollup() {}

  public static void main(String[] args) throws Exception {
    Settings settings;
    try {
      settings = Settings.fromEnvironment(System.getenv());
    } catch (Settings.Invalid e) {
      System.err.println("eos-rollup-streams-bench: " + e.getMessage());
      System.exit(3);
      return;
    }

    SchemaRegistry registry = new SchemaRegistry(settings.registryUrl());
    int rollupSchemaId;
    try {
      // Every check comes before the first side effect (a subject, a topic) on the shared registry and broker.
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.brokers()))) {
        int partitions = describe(admin, settings.inputTopic()).partitions().size();
        describe(admin, settings.inventoryTopic());
        rollupSchemaId =
            registry.register(settings.outputTopic() + "-value", Schemas.METRIC_ROLLUP.toString());
        createIfMissing(admin, settings.outputTopic(), partitions);
      }
    } catch (IllegalStateException e) {
      System.err.println("eos-rollup-streams-bench: cannot start: " + e.getMessage());
      System.exit(2);
      return;
    } catch (Exception e) {
      System.err.println("eos-rollup-streams-bench: cannot start: " + rootMessage(e));
      System.exit(2);
      return;
    }

    boolean tempStateDir = settings.stateDir().isEmpty();
    Path stateDir =
        tempStateDir ? Files.createTempDirectory("eos-rollup-streams-") : Path.of(settings.stateDir());

    Counters counters = new Counters();
    CommitTimingClientSupplier clients = new CommitTimingClientSupplier();
    KafkaStreams streams =
        new KafkaStreams(
            RollupTopology.build(settings, registry, rollupSchemaId, counters),
            streamsProperties(settings, stateDir),
            clients);
    StatusReporter reporter = new StatusReporter(STDOUT, streams, counters, clients);

    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch stopped = new CountDownLatch(1);
    AtomicInteger exitCode = new AtomicInteger(0);
    AtomicReference<String> failure = new AtomicReference<>();
    AtomicBoolean started = new AtomicBoolean(false);
    AtomicBoolean stopping = new AtomicBoolean(false);

    streams.setUncaughtExceptionHandler(
        error -> {
          failure.compareAndSet(null, rootMessage(error));
          exitCode.set(1);
          stop.countDown();
          return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.setStateListener(
        (newState, oldState) -> {
          if (newState == KafkaStreams.State.RUNNING && started.compareAndSet(false, true)) {
            reporter.event("started", null);
          }
          if (newState == KafkaStreams.State.ERROR
              || (newState == KafkaStreams.State.PENDING_SHUTDOWN && !stopping.get())) {
            failure.compareAndSet(null, "Kafka Streams went from " + oldState + " to " + newState);
            exitCode.set(1);
            stop.countDown();
          }
        });

    // A JVM stopped by a signal exits with 128+signal once the hooks return; the hook halts with our own code
    // after the main thread has closed Kafka Streams, so a clean SIGTERM stop exits 0.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stop.countDown();
                  try {
                    stopped.await(settings.shutdownTimeoutMs() + 5_000, TimeUnit.MILLISECONDS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  STDOUT.flush();
                  System.err.flush();
                  Runtime.getRuntime().halt(exitCode.get());
                },
                "shutdown"));

    ScheduledExecutorService ticker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "status-reporter");
              t.setDaemon(true);
              return t;
            });
    ticker.scheduleAtFixedRate(reporter::status, 1, 1, TimeUnit.SECONDS);

    try {
      streams.start();
      stop.await();
    } catch (RuntimeException e) {
      failure.compareAndSet(null, rootMessage(e));
      exitCode.set(1);
    }

    stopping.set(true);
    boolean closed = streams.close(Duration.ofMillis(settings.shutdownTimeoutMs()));
    ticker.shutdownNow();
    reporter.status();
    if (!closed) {
      failure.compareAndSet(null, "Kafka Streams did not close within " + settings.shutdownTimeoutMs() + " ms");
      exitCode.compareAndSet(0, 1);
    }
    if (tempStateDir) deleteRecursively(stateDir);
    if (exitCode.get() == 0) reporter.event("stopped", null);
    else {
      reporter.event("failed", failure.get());
      System.err.println("eos-rollup-streams-bench: " + failure.get());
    }
    stopped.countDown();
    // After a signal the shutdown hook halts the JVM; after a failure, System.exit runs it and it halts with 1.
    System.exit(exitCode.get());
  }

  static Properties streamsProperties(Settings s, Path stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, s.appId());
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, s.brokers());
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, s.commitIntervalMs());
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, s.numStreamThreads());
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), s.sessionTimeoutMs());
    p.put(
        StreamsConfig.mainConsumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG),
        Math.min(3_000, s.sessionTimeoutMs() / 3));
    // Only changes how Kafka's metrics are windowed: commit-latency-avg/max then describe the last second or two
    // instead of the last minute, so sampling them once a second gives a usable series.
    p.put(StreamsConfig.METRICS_SAMPLE_WINDOW_MS_CONFIG, 1_000);
    return p;
  }

  /** Kafka Streams never creates sink topics; like the stage, give the output the input's partition count. */
  private static void createIfMissing(Admin admin, String topic, int partitions) throws Exception {
    try {
      admin
          .createTopics(List.of(new NewTopic(topic, Optional.of(partitions), Optional.empty())))
          .all()
          .get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }

  /** The input and inventory topics must exist, as for the stage. */
  private static TopicDescription describe(Admin admin, String topic) throws Exception {
    try {
      return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) {
        throw new IllegalStateException("topic " + topic + " does not exist", e);
      }
      throw e;
    }
  }

  private static String rootMessage(Throwable error) {
    Throwable t = error;
    StringBuilder message = new StringBuilder(String.valueOf(error));
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
      message.append(": ").append(t);
    }
    return message.toString();
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException e) {
      System.err.println("eos-rollup-streams-bench: could not delete " + dir + ": " + e);
    }
  }
}
