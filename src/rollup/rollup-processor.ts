/**
 * The metrics rollup as the engine's processor: Avro metrics in, enriched event-time window rollups out. Its
 * rules are the pure domain's (src/domain); this file only adapts them to the processor contract: the decoder's
 * poison and the domain's dead letters become engine dead letters with their KIP-1034 exception names, and each
 * closed window is forwarded keyed by its host.
 */
import { metricDeadLetter } from '../domain/dead-letter.js';
import type { HostInfo, MetricRollup, ServerMetric } from '../domain/metric.js';
import { closeWindows, processMetric, type DecodedInput } from '../domain/process-record.js';
import type { WindowSpec } from '../domain/window.js';
import type { DeadLetter } from '../engine/dead-letter.js';
import type { Processor, ProcessorContext, ProcessorSupplier, RecordMetadata } from '../engine/processor.js';
import type { Deserializer } from '../engine/serde.js';
import { WindowStore, type StoreTransaction } from './window-store.js';

/** The metric decoder as the engine sees it (src/serde's MetricDecoder, a fake in tests). */
export interface MetricSource {
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  /** Whether `prepare` would look nothing up for these values. Absent: never assumed. */
  isPrepared?(values: readonly (Buffer | null)[]): boolean;
  decode(value: Buffer | null): DecodedInput;
}

export interface RollupSettings {
  windows: WindowSpec;
  decoder: MetricSource;
  encodeRollup: (rollup: MetricRollup) => Buffer;
  /** The inventory follower's table: read at process time, so enrichment sees the latest inventory. */
  lookupHost: (host: string) => HostInfo | undefined;
}

type RollupContext = ProcessorContext<MetricRollup, StoreTransaction>;

function forwardAll(context: RollupContext, rollups: readonly MetricRollup[]): void {
  // Runs for every record, nearly always with nothing: a for-of over nothing still made an iterator.
  if (rollups.length === 0) return;
  for (const rollup of rollups) context.forward(rollup.host, rollup);
}

export function metricDeserializer(decoder: MetricSource): Deserializer<ServerMetric> {
  return {
    prepare: (values) => decoder.prepare(values),
    isPrepared: (values) => decoder.isPrepared?.(values) ?? false,
    deserialize: (bytes) => {
      const decoded = decoder.decode(bytes);
      // The decoder's own result when it holds a metric: already the serde's shape, no second object per record.
      return decoded.kind === 'poison'
        ? { kind: 'poison', poison: metricDeadLetter(decoded.poison) }
        : decoded;
    },
  };
}

export class RollupProcessor implements Processor<ServerMetric, MetricRollup, StoreTransaction> {
  constructor(private readonly settings: Pick<RollupSettings, 'windows' | 'lookupHost'>) {}

  process(metric: ServerMetric, _record: RecordMetadata, context: RollupContext): DeadLetter | undefined {
    const { windows, lookupHost } = this.settings;
    const outcome = processMetric(context.store, metric, lookupHost, windows);
    if (outcome.kind === 'dead-letter') return metricDeadLetter(outcome.poison);
    forwardAll(context, outcome.closed);
    return undefined;
  }

  /** The record step closes its own windows; this closes those an idle flush's stream time closes. */
  punctuate(context: RollupContext): void {
    forwardAll(context, closeWindows(context.store, this.settings.windows));
  }

  wouldPunctuate(store: WindowStore, streamTimeMs: number): boolean {
    return store.hasWindowClosedBy(streamTimeMs, this.settings.windows);
  }
}

export function rollupSupplier(
  settings: RollupSettings,
): ProcessorSupplier<ServerMetric, MetricRollup, StoreTransaction> {
  return {
    input: metricDeserializer(settings.decoder),
    output: { serialize: settings.encodeRollup },
    createStore: () => new WindowStore(),
    createProcessor: () => new RollupProcessor(settings),
  };
}
