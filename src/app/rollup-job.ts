/**
 * The metrics rollup as a job: the one `eos-rollup run` runs. Its output schema is registered (or looked up) when
 * the processor is built, its input decoded through the registry, its metrics enriched from the inventory table.
 */
import type { MetricRollup, ServerMetric } from '../domain/metric.js';
import { rollupSupplier } from '../rollup/rollup-processor.js';
import type { StoreTransaction } from '../rollup/window-store.js';
import { AvroEncoder } from '../serde/avro-encoder.js';
import { MetricDecoder } from '../serde/metric-decoder.js';
import type { JobDefinition } from './run-job.js';

export function rollupJob(version: string): JobDefinition<ServerMetric, MetricRollup, StoreTransaction> {
  return {
    name: 'eos-rollup',
    version,
    readsInventory: true,
    processor: async ({ config, registry, inventory }) => {
      const encoder = await AvroEncoder.register<MetricRollup>(
        registry(),
        config.topics.output,
        'metricRollup',
        config.registry.autoRegister,
      );
      const follower = inventory();
      return rollupSupplier({
        windows: config.windows,
        decoder: new MetricDecoder(registry()),
        encodeRollup: (rollup) => encoder.encode(rollup),
        lookupHost: follower.lookup,
      });
    },
  };
}
