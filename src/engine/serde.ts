/**
 * How a job's records become bytes and back. The engine never looks inside a value: it hands the input bytes to
 * the job's deserializer and the processor's outputs to the job's serializer.
 */
import type { DeadLetter } from './dead-letter.js';

/** A deserializer either understands the bytes or says why they can never be understood (a dead letter). */
export type Deserialized<T> =
  { readonly kind: 'value'; readonly value: T } | { readonly kind: 'poison'; readonly poison: DeadLetter };

export interface Deserializer<T> {
  /**
   * Called once per chunk before any `deserialize`, with the chunk's raw values: the place for I/O a decoder
   * needs (a schema registry lookup). A throw is retriable: the chunk is retried, nothing is dead-lettered.
   */
  prepare?(values: readonly (Buffer | null)[]): Promise<void>;
  /**
   * Whether `prepare` would have nothing to do for these values, so they can be deserialized now, without an
   * await (the engine then processes records as they are fetched: design §24). Absent while `prepare` is
   * present: never assumed.
   */
  isPrepared?(values: readonly (Buffer | null)[]): boolean;
  /** Synchronous and deterministic: the same bytes give the same answer on every replay. */
  deserialize(bytes: Buffer | null): Deserialized<T>;
}

export interface Serializer<T> {
  serialize(value: T): Buffer;
}

export interface Serde<T> extends Serializer<T>, Deserializer<T> {}

/** UTF-8 strings; a null value is poison (a job that accepts tombstones writes its own). */
export const STRING_SERDE: Serde<string> = {
  serialize: (value) => Buffer.from(value, 'utf8'),
  deserialize: (bytes) =>
    bytes === null
      ? { kind: 'poison', poison: { reason: 'null-value', message: 'the record has no value' } }
      : { kind: 'value', value: bytes.toString('utf8') },
};
