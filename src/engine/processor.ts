/**
 * The processor contract: what a job gives the engine. The engine reads the input, runs `process` per record
 * inside a copy-on-write store transaction, and writes the outputs, the dead letters, the changelog and the
 * input offsets in one Kafka transaction. A processor therefore only computes: no I/O, no wall clock, no
 * randomness in `process` or `punctuate`, because a transaction that aborts is replayed from the same state
 * and must decide the same.
 */
import type { DeadLetter } from './dead-letter.js';
import type { Headers, InputHeaders } from './ports.js';
import type { Deserializer, Serializer } from './serde.js';
import type { StateStore, StoreWrites } from './state-store.js';

/** Where the current record came from. */
export interface RecordMetadata {
  partition: number;
  offset: bigint;
  timestampMs: number;
  key: Buffer | null;
  headers: InputHeaders;
}

export interface ProcessorContext<Out, W extends StoreWrites> {
  readonly partition: number;
  /** The state, as this transaction sees it: writes become visible to other transactions only after commit. */
  readonly store: W;
  /** Stream time as this transaction sees it. */
  streamTimeMs(): number | null;
  /** One output record; the engine serializes the value, partitions by key and stamps the lineage headers. */
  forward(key: Buffer | string, value: Out, headers?: Headers): void;
}

export interface Processor<In, Out, W extends StoreWrites> {
  /** After the store is restored from the changelog, before the first record. */
  init?(store: StateStore<W>, partition: number): void;
  /**
   * One record. Returns a dead letter when the record can never succeed: it is then written to the DLQ with its
   * raw bytes, and the processor must not have changed state for it. A throw is a processing failure: the chunk
   * is retried and, after repeated failures, the record is dead-lettered as `processing-failed`.
   */
  process(value: In, record: RecordMetadata, context: ProcessorContext<Out, W>): DeadLetter | undefined;
  /**
   * Stream time moved forward: after a record that advanced it, and when the idle flush advances it on a
   * partition that receives nothing (the wall clock is the engine's, the target is a stream time).
   */
  punctuate?(context: ProcessorContext<Out, W>): void;
  /**
   * Whether advancing the committed stream time to `streamTimeMs` would make `punctuate` forward something; the
   * idle flush commits a transaction only then. Absent: the idle flush never fires.
   */
  wouldPunctuate?(store: StateStore<W>, streamTimeMs: number): boolean;
}

/** Everything a job hands the engine for its records: one processor and one store per partition task. */
export interface ProcessorSupplier<In, Out, W extends StoreWrites> {
  input: Deserializer<In>;
  output: Serializer<Out>;
  createStore(partition: number): StateStore<W>;
  createProcessor(partition: number): Processor<In, Out, W>;
}

/** A forwarded record in bytes. */
export interface Emitted {
  key: Buffer;
  value: Buffer;
  headers?: Headers | undefined;
}

export type StepOutcome =
  { kind: 'forwarded'; emitted: readonly Emitted[] } | { kind: 'dead-letter'; poison: DeadLetter };

/**
 * Most records only update a window and forward nothing: they share this outcome instead of allocating an empty
 * array and an outcome each (a per-record allocation the profile showed in the collector).
 */
const NOTHING_EMITTED: readonly Emitted[] = Object.freeze([]);
const FORWARDED_NOTHING: StepOutcome = Object.freeze({ kind: 'forwarded', emitted: NOTHING_EMITTED });

/**
 * A processor bound to its task with its types erased: the task and the record collector need no generics.
 * `begin` opens the store transaction every `process`/`punctuate` until `close` runs in.
 */
export interface TaskProcessor {
  readonly store: StateStore;
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  /** Whether `prepare` would do nothing for these values (see Deserializer.isPrepared). */
  isPrepared(values: readonly (Buffer | null)[]): boolean;
  init(): void;
  begin(): StoreWrites;
  process(message: RecordMetadata & { value: Buffer | null }): StepOutcome;
  punctuate(): readonly Emitted[];
  wouldPunctuate(streamTimeMs: number): boolean;
}

export type TaskProcessorFactory = (partition: number) => TaskProcessor;

export function bindProcessor<In, Out, W extends StoreWrites>(
  supplier: ProcessorSupplier<In, Out, W>,
): TaskProcessorFactory {
  return (partition) => {
    const store = supplier.createStore(partition);
    const processor = supplier.createProcessor(partition);
    let writes: W | undefined;
    let emitted: Emitted[] = [];
    const context: ProcessorContext<Out, W> = {
      partition,
      get store(): W {
        if (writes === undefined) throw new Error('no store transaction is open');
        return writes;
      },
      streamTimeMs: () => context.store.streamTimeMs(),
      forward: (key, value, headers) => {
        emitted.push({
          key: typeof key === 'string' ? Buffer.from(key, 'utf8') : key,
          value: supplier.output.serialize(value),
          headers,
        });
      },
    };
    const drain = (): readonly Emitted[] => {
      if (emitted.length === 0) return NOTHING_EMITTED;
      const out = emitted;
      emitted = [];
      return out;
    };
    return {
      store,
      prepare: async (values) => {
        await supplier.input.prepare?.(values);
      },
      isPrepared: (values) => {
        const { input } = supplier;
        if (input.prepare === undefined) return true;
        return input.isPrepared?.(values) ?? false;
      },
      init: () => processor.init?.(store, partition),
      begin: () => {
        writes = store.begin();
        emitted = [];
        return writes;
      },
      process: (message) => {
        const decoded = supplier.input.deserialize(message.value);
        if (decoded.kind === 'poison') return { kind: 'dead-letter', poison: decoded.poison };
        const before = context.store.streamTimeMs();
        const poison = processor.process(decoded.value, message, context);
        if (poison !== undefined) {
          // A dead letter leaves no output: whatever was forwarded for it is dropped with it.
          drain();
          return { kind: 'dead-letter', poison };
        }
        if (context.store.streamTimeMs() !== before) processor.punctuate?.(context);
        const forwarded = drain();
        return forwarded === NOTHING_EMITTED ? FORWARDED_NOTHING : { kind: 'forwarded', emitted: forwarded };
      },
      punctuate: () => {
        processor.punctuate?.(context);
        return drain();
      },
      wouldPunctuate: (streamTimeMs) => processor.wouldPunctuate?.(store, streamTimeMs) ?? false,
    };
  };
}
