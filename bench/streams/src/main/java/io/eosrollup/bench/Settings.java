package io.eosrollup.bench;

import java.net.URI;
import java.util.Map;

/** Environment variables, named as the stage names them (README "Configuration"), validated once at start. */
record Settings(
    String brokers,
    String registryUrl,
    String appId,
    String inputTopic,
    String inventoryTopic,
    String outputTopic,
    long windowMs,
    long graceMs,
    long commitIntervalMs,
    int sessionTimeoutMs,
    int numStreamThreads,
    String stateDir,
    long shutdownTimeoutMs) {

  /** A bad or missing variable: the message names the variable, the value and what is allowed. */
  static final class Invalid extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Invalid(String message) {
      super(message);
    }
  }

  static Settings fromEnvironment(Map<String, String> env) {
    String registry = required(env, "SCHEMA_REGISTRY_URL");
    URI uri = URI.create(registry);
    if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
      throw new Invalid("SCHEMA_REGISTRY_URL=" + registry + ": expected an http:// or https:// URL");
    }
    long windowMs = number(env, "WINDOW_MS", 60_000, 1_000, 86_400_000);
    return new Settings(
        required(env, "KAFKA_BROKERS"),
        registry.replaceAll("/+$", ""),
        text(env, "APP_ID", "eos-rollup-streams"),
        text(env, "INPUT_TOPIC", "server-metrics"),
        text(env, "INVENTORY_TOPIC", "host-inventory"),
        text(env, "OUTPUT_TOPIC", "server-metrics-rollup-1m"),
        windowMs,
        number(env, "GRACE_MS", 10_000, 0, 10 * windowMs),
        number(env, "COMMIT_INTERVAL_MS", 100, 10, 60_000),
        (int) number(env, "SESSION_TIMEOUT_MS", 10_000, 1_000, 300_000),
        (int) number(env, "NUM_STREAM_THREADS", 1, 1, 64),
        env.getOrDefault("STATE_DIR", ""),
        number(env, "SHUTDOWN_TIMEOUT_MS", 30_000, 1_000, 600_000));
  }

  private static String required(Map<String, String> env, String name) {
    String value = env.get(name);
    if (value == null || value.isBlank()) throw new Invalid(name + " is required");
    return value.trim();
  }

  private static String text(Map<String, String> env, String name, String fallback) {
    String value = env.get(name);
    if (value == null || value.isBlank()) return fallback;
    if (!value.matches("[A-Za-z0-9._-]{1,200}")) {
      throw new Invalid(name + "=" + value + ": expected 1 to 200 characters from A-Z a-z 0-9 . _ -");
    }
    return value;
  }

  private static long number(Map<String, String> env, String name, long fallback, long min, long max) {
    String value = env.get(name);
    if (value == null || value.isBlank()) return fallback;
    try {
      long parsed = Long.parseLong(value.trim());
      if (parsed >= min && parsed <= max) return parsed;
    } catch (NumberFormatException ignored) {
      // reported below with the allowed range
    }
    throw new Invalid(name + "=" + value + ": expected an integer from " + min + " to " + max);
  }
}
