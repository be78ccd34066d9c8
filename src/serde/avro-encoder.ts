/** Encodes records of one schema for one topic in Confluent wire format, with the id registered at start. */
import type { Type } from 'avsc';
import type { RegistryClient } from './registry-client.js';
import { avroType, schemaJson, type SchemaName } from './schema-files.js';
import { withWireHeader } from './wire-format.js';

export class AvroEncoder<T> {
  private constructor(
    private readonly type: Type,
    readonly schemaId: number,
  ) {}

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
    return withWireHeader(this.schemaId, this.type.toBuffer(record));
  }
}
