package io.eosrollup.bench;

import java.util.concurrent.atomic.LongAdder;

/** What the serdes saw, for the status lines; Kafka Streams' own metrics cover the rest. */
final class Counters {
  /** Input values decoded and valid. */
  final LongAdder decoded = new LongAdder();
  /** Input values skipped: undecodable, null or invalid (the stage would dead-letter them). */
  final LongAdder skipped = new LongAdder();
  /** Inventory values that could not be decoded; their host enriches as unknown. */
  final LongAdder inventorySkipped = new LongAdder();
  /** MetricRollup records encoded for the output topic. */
  final LongAdder rollups = new LongAdder();
}
