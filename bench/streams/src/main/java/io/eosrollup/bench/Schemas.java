package io.eosrollup.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.avro.Schema;

/** The repository's schemas/*.avsc, packed into the jar by the build (never copied by hand). */
final class Schemas {
  static final Schema SERVER_METRIC = parse("server-metric-v2.avsc");
  static final Schema HOST_INFO = parse("host-info.avsc");
  static final Schema METRIC_ROLLUP = parse("metric-rollup.avsc");

  private Schemas() {}

  static String text(String file) {
    try (InputStream in = Schemas.class.getResourceAsStream("/schemas/" + file)) {
      if (in == null) throw new IllegalStateException("schemas/" + file + " is missing from the jar");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Schema parse(String file) {
    return new Schema.Parser().parse(text(file));
  }
}
