/**
 * Which dead letters `dlq replay` sends back to the input, and how. Pure: the DLQ records and the set of
 * already-replayed markers come in, a plan comes out.
 *
 * Never twice: every replayed dead letter gets a marker (key `<dlq topic>:<partition>:<offset>`) in the
 * compacted topic `<APP_ID>-dlq-replays`, written in the same Kafka transaction as the replayed record, so the
 * record and its marker exist together or not at all. A dead letter whose marker exists is skipped. A dead
 * letter that is itself a replay which failed again (it carries the replay.of header, kept by the stage with the
 * other original headers) is skipped too unless asked for: replaying it blindly could loop forever.
 */
import { REPLAY_HEADERS, STAGE_HEADER_NAMES, isSelected, type DlqEntry, type DlqFilter } from './dlq-view.js';

export interface ReplaySelection extends DlqFilter {
  /** Only dead letters of this input topic are replayed (the stage's own DLQ may be shared). */
  inputTopic: string;
  /** null: no limit. */
  limit: number | null;
  /** Also replay dead letters that are replays which failed again. */
  includeReplays: boolean;
}

export const SKIP_REASONS = [
  'already-replayed',
  'replay-failed-again',
  'no-source',
  'other-topic',
  'over-limit',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface ReplayItem {
  entry: DlqEntry;
  markerKey: string;
  target: { topic: string; partition: number };
}

export interface ReplayPlan {
  /** Per input partition in the original offset order, so a partition's records come back in their order. */
  items: ReplayItem[];
  /** Dead letters read. */
  total: number;
  /** Dead letters matching the reasons and the time. */
  selected: number;
  skipped: Record<SkipReason, number>;
}

export function replayMarkerKey(record: { topic: string; partition: number; offset: bigint }): string {
  return `${record.topic}:${record.partition}:${record.offset.toString()}`;
}

/** Collects the dead letters as they are read (keeping only the selected ones), then plans. */
export class ReplayPlanner {
  private total = 0;
  private readonly candidates: DlqEntry[] = [];

  constructor(private readonly selection: ReplaySelection) {}

  add(entry: DlqEntry): void {
    this.total += 1;
    if (isSelected(entry, this.selection)) this.candidates.push(entry);
  }

  plan(alreadyReplayed: ReadonlySet<string>): ReplayPlan {
    const skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
    const eligible: ReplayItem[] = [];
    for (const entry of this.candidates) {
      const markerKey = replayMarkerKey(entry.record);
      const source = entry.source;
      const skip: SkipReason | null =
        source === null
          ? 'no-source'
          : source.topic !== this.selection.inputTopic
            ? 'other-topic'
            : alreadyReplayed.has(markerKey)
              ? 'already-replayed'
              : entry.replayOf !== null && !this.selection.includeReplays
                ? 'replay-failed-again'
                : null;
      if (skip !== null || source === null) {
        skipped[skip ?? 'no-source'] += 1;
        continue;
      }
      eligible.push({
        entry,
        markerKey,
        target: { topic: source.topic, partition: source.partition },
      });
    }
    eligible.sort(
      (a, b) =>
        a.target.partition - b.target.partition ||
        compare(a.entry.source?.offset ?? 0n, b.entry.source?.offset ?? 0n) ||
        a.entry.record.partition - b.entry.record.partition ||
        compare(a.entry.record.offset, b.entry.record.offset),
    );
    const limit = this.selection.limit ?? eligible.length;
    skipped['over-limit'] = Math.max(0, eligible.length - limit);
    return { items: eligible.slice(0, limit), total: this.total, selected: this.candidates.length, skipped };
  }
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The headers of the replayed record: the original record's (what the dead letter carried besides the stage's
 * own DLQ and lineage headers), plus where it came from. A replay of a replay gets the newer replay.of.
 */
export function replayHeaders(
  entry: DlqEntry,
  markerKey: string,
  replayedAtMs: number,
): Record<string, Uint8Array | string | (Uint8Array | string)[]> {
  const headers: Record<string, Uint8Array | string | (Uint8Array | string)[]> = {};
  for (const [name, value] of Object.entries(entry.record.headers)) {
    if (
      value === undefined ||
      STAGE_HEADER_NAMES.has(name) ||
      name === REPLAY_HEADERS.of ||
      name === REPLAY_HEADERS.at
    )
      continue;
    // defineProperty: a header named `__proto__` must stay a header.
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  }
  headers[REPLAY_HEADERS.of] = markerKey;
  headers[REPLAY_HEADERS.at] = String(replayedAtMs);
  return headers;
}

/** The marker's value: enough to trace a replay from the marker topic alone. */
export function replayMarkerValue(item: ReplayItem, replayedAtMs: number, replayId: string): string {
  const { entry } = item;
  return JSON.stringify({
    v: 1,
    dlq: {
      topic: entry.record.topic,
      partition: entry.record.partition,
      offset: entry.record.offset.toString(),
    },
    reason: entry.reason,
    source: entry.source === null ? null : { ...entry.source, offset: entry.source.offset.toString() },
    target: item.target,
    replayedAtMs,
    replayId,
  });
}

export interface PlanCounts {
  byReason: Map<string, number>;
  byTarget: Map<string, number>;
}

export function countPlan(items: readonly ReplayItem[]): PlanCounts {
  const byReason = new Map<string, number>();
  const byTarget = new Map<string, number>();
  for (const { entry, target } of items) {
    byReason.set(entry.reason, (byReason.get(entry.reason) ?? 0) + 1);
    const label = `${target.topic}/${target.partition}`;
    byTarget.set(label, (byTarget.get(label) ?? 0) + 1);
  }
  return { byReason, byTarget };
}
