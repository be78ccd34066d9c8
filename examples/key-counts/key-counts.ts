/**
 * An exactly-once job in about fifty lines: counts the records of each key. Every input record gives one output
 * record `<key>=<count so far>` keyed by its key; a record without a key is dead-lettered. Counts live in a
 * changelogged store, so a crash at any instant neither loses nor repeats a count. Runs like `eos-rollup run`:
 * APP_ID, KAFKA_BROKERS, INPUT_TOPIC, OUTPUT_TOPIC, DLQ_TOPIC... from the environment.
 *
 * Imports only the package's public entry points (`eos-rollup/engine`, `eos-rollup/app`), by the relative paths
 * the package exports map them to.
 */
import { runJob, type JobDefinition } from '../../src/app/index.js';
import {
  KeyValueStore,
  STRING_SERDE,
  type KeyValueWrites,
  type Processor,
  type Serde,
} from '../../src/engine/index.js';

/** Counts as decimal text: readable in the changelog with the console consumer. */
const COUNT_SERDE: Serde<number> = {
  serialize: (count) => Buffer.from(String(count), 'utf8'),
  deserialize: (bytes) =>
    bytes === null || !/^\d+$/.test(bytes.toString('utf8'))
      ? { kind: 'poison', poison: { reason: 'bad-count', message: 'not a count' } }
      : { kind: 'value', value: Number(bytes.toString('utf8')) },
};

type Counts = KeyValueWrites<string, number>;

/** Deterministic and I/O-free: a replayed transaction counts from the same committed state. */
export const countByKey: Processor<string, string, Counts> = {
  process: (_value, record, context) => {
    if (record.key === null) return { reason: 'no-key', message: 'a record without a key cannot be counted' };
    const key = record.key.toString('utf8');
    const count = (context.store.get(key) ?? 0) + 1;
    context.store.put(key, count);
    context.forward(key, `${key}=${count}`);
    return undefined;
  },
};

export const keyCountsJob: JobDefinition<string, string, Counts> = {
  name: 'key-counts',
  version: '1.0.0',
  processor: () => ({
    input: STRING_SERDE,
    output: STRING_SERDE,
    createStore: () => new KeyValueStore({ key: STRING_SERDE, value: COUNT_SERDE }),
    createProcessor: () => countByKey,
  }),
};

if (require.main === module) {
  runJob(keyCountsJob).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
