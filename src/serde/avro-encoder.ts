/** Encodes records of one schema for one topic in Confluent wire format, with the id registered at start. */
import { Buffer } from 'node:buffer';
import type { Type } from 'avsc';
import type { RegistryClient } from './registry-client.js';
import { avroType, schemaJson, type SchemaName } from './schema-files.js';
import { HEADER_LENGTH, withWireHeader } from './wire-format.js';

/** Large enough for any record this stage writes; a larger one grows it. */
const INITIAL_SCRATCH_BYTES = 1024;

export class AvroEncoder<T> {
  /**
   * The wire header, then the last record's body: each record is encoded here and copied once into a pooled
   * buffer of its exact size, where `withWireHeader(type.toBuffer(...))` allocated two and zero-filled one.
   */
  private scratch: Buffer;

  private constructor(
    private readonly type: Type,
    readonly schemaId: number,
  ) {
    this.scratch = withWireHeader(schemaId, Buffer.alloc(INITIAL_SCRATCH_BYTES - HEADER_LENGTH));
  }

  /** `autoRegister` false: the schema must already be registered under `<topic>-value`; it is only looked up. */
  static async register<T>(
    registry: RegistryClient,
    topic: string,
    schema: SchemaName,
    autoRegister = true,
  ): Promise<AvroEncoder<T>> {
    const json = schemaJson(schema);
    const schemaId = autoRegister
      ? await registry.register(topic, json)
      : await registry.registered(topic, json);
    return new AvroEncoder<T>(avroType(schema), schemaId);
  }

  encode(record: T): Buffer {
    let end = this.type.encode(record, this.scratch, HEADER_LENGTH);
    if (end < 0) {
      // `encode` returns minus the bytes missing; write the record again into a scratch that fits it.
      this.scratch = withWireHeader(this.schemaId, Buffer.alloc(2 * (this.scratch.length - end)));
      end = this.type.encode(record, this.scratch, HEADER_LENGTH);
    }
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    return out;
  }
}
