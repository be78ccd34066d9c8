package io.eosrollup.bench;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Confluent wire format (magic byte 0, big-endian int32 schema id, Avro binary) read with a fixed reader schema,
 * resolving whatever writer schema the id names. Thread-safe: Kafka Streams shares one serde across threads.
 */
final class WireFormatReader {
  static final int HEADER_LENGTH = 5;

  /** Why a value was not decoded; the bench counts these instead of failing (design §4 poison pills). */
  enum Problem {
    TOO_SHORT,
    BAD_MAGIC_BYTE,
    UNKNOWN_SCHEMA_ID,
    INCOMPATIBLE_SCHEMA,
    AVRO_DECODE
  }

  static final class Undecodable extends Exception {
    private static final long serialVersionUID = 1L;
    final Problem problem;

    Undecodable(Problem problem, String message) {
      super(message, null, false, false);
      this.problem = problem;
    }
  }

  private final SchemaRegistry registry;
  private final Schema reader;
  /** Per writer id: a reader, or why there is none (unknown id, incompatible schema: both permanent facts). */
  private record Writer(GenericDatumReader<GenericRecord> datumReader, Problem problem, String detail) {}

  private final ConcurrentHashMap<Integer, Writer> writers = new ConcurrentHashMap<>();

  WireFormatReader(SchemaRegistry registry, Schema reader) {
    this.registry = registry;
    this.reader = reader;
  }

  GenericRecord read(byte[] value) throws Undecodable {
    if (value.length < HEADER_LENGTH) {
      throw new Undecodable(Problem.TOO_SHORT, value.length + " bytes, shorter than the 5-byte header");
    }
    if (value[0] != 0) throw new Undecodable(Problem.BAD_MAGIC_BYTE, "magic byte " + value[0]);
    int id =
        ((value[1] & 0xff) << 24) | ((value[2] & 0xff) << 16) | ((value[3] & 0xff) << 8) | (value[4] & 0xff);
    Writer writer = writers.computeIfAbsent(id, this::writerFor);
    if (writer.datumReader == null) {
      throw new Undecodable(writer.problem, "schema id " + id + ": " + writer.detail);
    }
    try {
      BinaryDecoder body =
          DecoderFactory.get().binaryDecoder(value, HEADER_LENGTH, value.length - HEADER_LENGTH, null);
      return writer.datumReader.read(null, body);
    } catch (IOException | RuntimeException e) {
      throw new Undecodable(Problem.AVRO_DECODE, "schema id " + id + ": " + e);
    }
  }

  private Writer writerFor(int id) {
    Optional<Schema> schema = registry.schemaById(id);
    if (schema.isEmpty()) return new Writer(null, Problem.UNKNOWN_SCHEMA_ID, "not in the registry");
    SchemaCompatibility.SchemaPairCompatibility compatibility =
        SchemaCompatibility.checkReaderWriterCompatibility(reader, schema.get());
    if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
      String why = "cannot be read as " + reader.getFullName() + ": " + compatibility.getDescription();
      return new Writer(null, Problem.INCOMPATIBLE_SCHEMA, why);
    }
    return new Writer(new GenericDatumReader<>(schema.get(), reader), null, null);
  }
}
