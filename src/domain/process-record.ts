import { accumulate, accumulateInPlace, toRollup, type WindowAggregate } from './aggregate.js';
import type { Poison } from './dead-letter.js';
import { enrichmentFor } from './enrich.js';
import type { HostInfo, MetricRollup, ServerMetric } from './metric.js';
import { validateMetric } from './validate.js';
import { isWindowClosed, windowCloseTime, windowEndFor, windowStartFor, type WindowSpec } from './window.js';

/** What the engine keeps per task; implemented by state/StoreTransaction. */
export interface WindowTable {
  streamTimeMs(): number | null;
  get(host: string, windowStart: number): WindowAggregate | undefined;
  /**
   * The window as this transaction itself last put it, if it did: nothing outside the transaction holds that
   * object, so it may be changed in place. Undefined for a window it only reads (committed) or has not got.
   */
  getOwn(host: string, windowStart: number): WindowAggregate | undefined;
  put(agg: WindowAggregate): void;
  /** max(current, t): stream time never goes back. */
  advanceStreamTime(eventTimeMs: number): void;
  /** Removes and returns every window with closeTime <= streamTime, ordered by windowStart then host. */
  takeClosedWindows(spec: WindowSpec): readonly WindowAggregate[];
}

export type DecodedInput = { kind: 'value'; value: ServerMetric } | { kind: 'poison'; poison: Poison };

export type RecordOutcome =
  { kind: 'aggregated'; closed: readonly MetricRollup[] } | { kind: 'dead-letter'; poison: Poison };

/**
 * Most records close no window: they share one frozen outcome instead of allocating an empty array and an
 * outcome each (the per-record step runs for every input record).
 */
const NO_ROLLUPS: readonly MetricRollup[] = Object.freeze([]);
const AGGREGATED_CLOSING_NOTHING: RecordOutcome = Object.freeze({ kind: 'aggregated', closed: NO_ROLLUPS });

/**
 * Emits the final rollup of every window the table's stream time has closed. Exported for the idle flush,
 * which advances stream time without a record and must close windows exactly as a record would.
 */
export function closeWindows(table: WindowTable, spec: WindowSpec): readonly MetricRollup[] {
  const closed = table.takeClosedWindows(spec);
  return closed.length === 0 ? NO_ROLLUPS : closed.map((agg) => toRollup(agg, spec.sizeMs));
}

function lateCheck(
  metric: ServerMetric,
  windowStart: number,
  spec: WindowSpec,
  streamTimeMs: number | null,
): Poison | null {
  if (!isWindowClosed(windowStart, spec, streamTimeMs)) return null;
  return {
    reason: 'late',
    message:
      `timestamp ${metric.timestamp} falls in window [${windowStart}, ${windowEndFor(windowStart, spec.sizeMs)}) ` +
      `which closed at ${windowCloseTime(windowStart, spec)}; stream time is ${streamTimeMs}`,
  };
}

/**
 * Each counter is a safe integer on its own, but a window's sum can pass 2^53 and no longer be exact (nor
 * encodable in the changelog). The record that would push it over is refused, deterministically, before it
 * touches state: a replay decides the same.
 */
function sumOverflow(
  prev: WindowAggregate | undefined,
  metric: ServerMetric,
  windowStart: number,
): Poison | null {
  if (prev === undefined) return null;
  // Fields read by name: read by a computed name, each double was boxed, an allocation per field and record.
  const field = !Number.isSafeInteger(prev.disk_read_bytes + metric.disk_read_bytes)
    ? 'disk_read_bytes'
    : !Number.isSafeInteger(prev.disk_write_bytes + metric.disk_write_bytes)
      ? 'disk_write_bytes'
      : !Number.isSafeInteger(prev.net_rx_bytes + metric.net_rx_bytes)
        ? 'net_rx_bytes'
        : !Number.isSafeInteger(prev.net_tx_bytes + metric.net_tx_bytes)
          ? 'net_tx_bytes'
          : undefined;
  if (field === undefined) return null;
  return {
    reason: 'processing-failed',
    message: `${field} summed over window ${windowStart} for host ${metric.host} would exceed 2^53-1`,
  };
}

/**
 * The per-record step. Poison (from decode, validation or lateness) touches no state, so it never moves
 * stream time; a valid record is folded in before stream time advances so its own window is never closed
 * under it.
 */
export function processRecord(
  table: WindowTable,
  input: DecodedInput,
  lookupHost: (host: string) => HostInfo | undefined,
  spec: WindowSpec,
): RecordOutcome {
  if (input.kind === 'poison') return { kind: 'dead-letter', poison: input.poison };
  return processMetric(table, input.value, lookupHost, spec);
}

/** The per-record step for a record that decoded: `processRecord` without the decoder's wrapper around it. */
export function processMetric(
  table: WindowTable,
  metric: ServerMetric,
  lookupHost: (host: string) => HostInfo | undefined,
  spec: WindowSpec,
): RecordOutcome {
  const invalid = validateMetric(metric);
  if (invalid !== null) return { kind: 'dead-letter', poison: invalid };

  const windowStart = windowStartFor(metric.timestamp, spec.sizeMs);
  const late = lateCheck(metric, windowStart, spec, table.streamTimeMs());
  if (late !== null) return { kind: 'dead-letter', poison: late };

  const own = table.getOwn(metric.host, windowStart);
  const prev = own ?? table.get(metric.host, windowStart);
  const overflow = sumOverflow(prev, metric, windowStart);
  if (overflow !== null) return { kind: 'dead-letter', poison: overflow };
  const enrichment = enrichmentFor(lookupHost(metric.host));
  if (own !== undefined) accumulateInPlace(own, metric, enrichment);
  else table.put(accumulate(prev, metric, windowStart, enrichment));
  table.advanceStreamTime(metric.timestamp);
  const closed = closeWindows(table, spec);
  return closed === NO_ROLLUPS ? AGGREGATED_CLOSING_NOTHING : { kind: 'aggregated', closed };
}
