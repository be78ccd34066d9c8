/**
 * `eos-rollup dlq inspect` and `eos-rollup dlq replay`.
 *
 * inspect: reads DLQ_TOPIC (read_committed, to its end offsets at start), counts by reason and by source
 * partition, and shows the records: headers decoded, payload decoded through the registry when possible, raw
 * bytes otherwise.
 *
 * replay: sends selected dead letters back to the input topic they came from (same partition, key, value and
 * original headers, plus `eos-rollup.replay.of`) inside Kafka transactions of the transactional id
 * `<APP_ID>-dlq-replay`, each also writing one marker per record to the compacted `<APP_ID>-dlq-replays`. The
 * order makes it exactly once: open the producer (InitProducerId fences any earlier replay and settles its open
 * transaction), then read the markers, then the DLQ, and replay only what has no marker. A replay killed at any
 * point is simply run again. See src/ops/replay-plan.ts for what is selected and skipped.
 */
import { dispatchSubcommand } from '../arguments.js';
import { inspect } from './dlq/inspect.js';
import { replay } from './dlq/replay.js';
import { SPEC } from './dlq/shared.js';

export async function dlqCommand(args: string[]): Promise<number> {
  return dispatchSubcommand({ spec: SPEC, run: { inspect, replay } }, args);
}
