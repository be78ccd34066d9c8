package io.eosrollup.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.apache.avro.Schema;

/**
 * The Confluent-compatible registry API (Apicurio serves it under /apis/ccompat/v7): the two calls a serde
 * needs. Callers cache; this class only talks HTTP.
 */
final class SchemaRegistry {
  private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
  private static final int ATTEMPTS = 5;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String baseUrl;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1).build();

  SchemaRegistry(String baseUrl) {
    this.baseUrl = baseUrl;
  }

  /** The writer schema of an id; empty when the registry says 404 (a fact about the data, never retried). */
  Optional<Schema> schemaById(int id) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(baseUrl + "/schemas/ids/" + id))
            .header("Accept", CONTENT_TYPE)
            .timeout(Duration.ofSeconds(10))
            .GET()
            .build();
    HttpResponse<String> response = send(request, "looking up schema id " + id);
    if (response.statusCode() == 404) return Optional.empty();
    JsonNode body = ok(response, "looking up schema id " + id);
    return Optional.of(new Schema.Parser().parse(body.path("schema").asText()));
  }

  /** Registers (or finds) the schema under subject and returns its id. */
  int register(String subject, String schemaJson) {
    String doing = "registering a schema under " + subject;
    String payload;
    try {
      payload = JSON.writeValueAsString(JSON.createObjectNode().put("schema", schemaJson));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    baseUrl + "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions"))
            .header("Content-Type", CONTENT_TYPE)
            .header("Accept", CONTENT_TYPE)
            .timeout(Duration.ofSeconds(10))
            .POST(HttpRequest.BodyPublishers.ofString(payload))
            .build();
    return ok(send(request, doing), doing).path("id").asInt();
  }

  /** Network errors and 5xx are retried briefly: the registry may be restarting; anything else is final. */
  private HttpResponse<String> send(HttpRequest request, String doing) {
    long backoffMs = 100;
    for (int attempt = 1; ; attempt++) {
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() < 500 || attempt == ATTEMPTS) return response;
      } catch (IOException e) {
        if (attempt == ATTEMPTS) throw new RegistryUnavailable(doing + ": " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RegistryUnavailable(doing + ": interrupted", e);
      }
      try {
        Thread.sleep(backoffMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RegistryUnavailable(doing + ": interrupted", e);
      }
      backoffMs = Math.min(backoffMs * 2, 2_000);
    }
  }

  private static JsonNode ok(HttpResponse<String> response, String doing) {
    if (response.statusCode() / 100 != 2) {
      throw new RegistryUnavailable(
          doing + ": HTTP " + response.statusCode() + " " + response.body(), null);
    }
    try {
      return JSON.readTree(response.body());
    } catch (IOException e) {
      throw new RegistryUnavailable(doing + ": unreadable answer " + response.body(), e);
    }
  }

  static final class RegistryUnavailable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RegistryUnavailable(String message, Throwable cause) {
      super("schema registry " + message, cause);
    }
  }
}
