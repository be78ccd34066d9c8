/**
 * The engine's public API (package export `eos-rollup/engine`): what a processor is written against. Everything
 * else in src/engine is the engine's own and may change.
 */
export type { Processor, ProcessorContext, ProcessorSupplier, RecordMetadata } from './processor.js';
export type { Deserialized, Deserializer, Serde, Serializer } from './serde.js';
export { STRING_SERDE } from './serde.js';
export type { ChangelogEntry, StateStore, StoreWrites } from './state-store.js';
export { KeyValueStore, KeyValueWrites, type KeyValueSerdes } from './key-value-store.js';
export { DLQ_HEADERS, PROCESSING_FAILED, type DeadLetter } from './dead-letter.js';
export { LINEAGE_HEADERS } from './lineage.js';
export type { Headers, InputHeaders } from './ports.js';
