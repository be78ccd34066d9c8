/**
 * The auditor's own offline recomputation of what the stage should have done with its input (design §4, §5).
 * Deliberately NOT the stage's code: plain maps and loops over the auditor's own rules (contract.ts), so a bug
 * in the stage cannot hide itself here.
 */
import { invalidReason, windowStart } from './contract.js';
import type { AuditInputRecord, AuditPoisonReason } from './types.js';

/** The expected final state of one (partition, host, window). */
export interface ComputedWindow {
  partition: number;
  host: string;
  windowStart: number;
  count: number;
  cpuMin: number;
  cpuMax: number;
  cpuSum: number;
  memMin: number;
  memMax: number;
  memSum: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  netRxBytes: number;
  netTxBytes: number;
  firstEventTime: number;
  lastEventTime: number;
  /** The partition's final stream time reached windowStart + W + G: the stage must have emitted it. */
  closed: boolean;
}

export interface Recomputation {
  /** Poison verdicts by recordKey(partition, offset). */
  poison: Map<string, AuditPoisonReason>;
  /** Record keys of the valid records the auditor aggregated. */
  valid: Set<string>;
  /** By windowKey(partition, host, windowStart). */
  windows: Map<string, ComputedWindow>;
  /** Each input partition's final stream time (null: no valid record). */
  streamTimes: Map<number, number | null>;
}

export function recordKey(partition: number, offset: bigint): string {
  return `p${partition}@${offset.toString()}`;
}

/** Rollups carry no partition: the caller finds it from the record's lineage. */
export function windowKey(partition: number, host: string, windowStart: number): string {
  return `p${partition} ${JSON.stringify(host)} ${windowStart}`;
}

function compareOffsets(a: AuditInputRecord, b: AuditInputRecord): number {
  if (a.offset < b.offset) return -1;
  return a.offset > b.offset ? 1 : 0;
}

/** Groups by partition, each in offset order (the caller promises it; sorting again costs little). */
export function byPartition(input: readonly AuditInputRecord[]): Map<number, AuditInputRecord[]> {
  const groups = new Map<number, AuditInputRecord[]>();
  for (const record of input) {
    const list = groups.get(record.partition);
    if (list === undefined) groups.set(record.partition, [record]);
    else list.push(record);
  }
  for (const list of groups.values()) list.sort(compareOffsets);
  return groups;
}

/** True when window + value can no longer be represented exactly (a sum above 2^53 - 1). */
function overflows(sum: number, value: number): boolean {
  return sum + value > Number.MAX_SAFE_INTEGER;
}

export function recompute(
  input: readonly AuditInputRecord[],
  spec: { sizeMs: number; graceMs: number },
  /**
   * Records declared (by whoever made them break processing) to be dead-lettered as processing-failed, as
   * recordKey values. The auditor never takes that verdict from the DLQ itself: it cannot recompute it, so only a
   * declaration makes a valid record poison.
   */
  culprits: ReadonlySet<string> = new Set(),
): Recomputation {
  const result: Recomputation = {
    poison: new Map(),
    valid: new Set(),
    windows: new Map(),
    streamTimes: new Map(),
  };
  for (const [partition, records] of byPartition(input)) {
    // Stream time: the largest event time among valid, non-late records so far. Poison never moves it.
    let streamTime: number | null = null;
    const partitionWindows: ComputedWindow[] = [];
    for (const record of records) {
      const key = recordKey(partition, record.offset);
      if (record.decoded.kind === 'poison') {
        result.poison.set(key, record.decoded.reason);
        continue;
      }
      if (culprits.has(key)) {
        result.poison.set(key, 'processing-failed');
        continue;
      }
      const m = record.decoded.metric;
      const invalid = invalidReason(m);
      if (invalid !== null) {
        result.poison.set(key, invalid);
        continue;
      }
      const start = windowStart(m.timestamp, spec.sizeMs);
      if (streamTime !== null && start + spec.sizeMs + spec.graceMs <= streamTime) {
        result.poison.set(key, 'late');
        continue;
      }
      const wKey = windowKey(partition, m.host, start);
      const w = result.windows.get(wKey);
      if (w === undefined) {
        const fresh: ComputedWindow = {
          partition,
          host: m.host,
          windowStart: start,
          count: 1,
          cpuMin: m.cpu_percent,
          cpuMax: m.cpu_percent,
          cpuSum: m.cpu_percent,
          memMin: m.mem_percent,
          memMax: m.mem_percent,
          memSum: m.mem_percent,
          diskReadBytes: m.disk_read_bytes,
          diskWriteBytes: m.disk_write_bytes,
          netRxBytes: m.net_rx_bytes,
          netTxBytes: m.net_tx_bytes,
          firstEventTime: m.timestamp,
          lastEventTime: m.timestamp,
          closed: false,
        };
        result.windows.set(wKey, fresh);
        partitionWindows.push(fresh);
      } else {
        if (
          overflows(w.diskReadBytes, m.disk_read_bytes) ||
          overflows(w.diskWriteBytes, m.disk_write_bytes) ||
          overflows(w.netRxBytes, m.net_rx_bytes) ||
          overflows(w.netTxBytes, m.net_tx_bytes)
        ) {
          result.poison.set(key, 'processing-failed');
          continue;
        }
        w.count += 1;
        w.cpuMin = Math.min(w.cpuMin, m.cpu_percent);
        w.cpuMax = Math.max(w.cpuMax, m.cpu_percent);
        w.cpuSum += m.cpu_percent;
        w.memMin = Math.min(w.memMin, m.mem_percent);
        w.memMax = Math.max(w.memMax, m.mem_percent);
        w.memSum += m.mem_percent;
        w.diskReadBytes += m.disk_read_bytes;
        w.diskWriteBytes += m.disk_write_bytes;
        w.netRxBytes += m.net_rx_bytes;
        w.netTxBytes += m.net_tx_bytes;
        w.firstEventTime = Math.min(w.firstEventTime, m.timestamp);
        w.lastEventTime = Math.max(w.lastEventTime, m.timestamp);
      }
      result.valid.add(key);
      if (streamTime === null || m.timestamp > streamTime) streamTime = m.timestamp;
    }
    for (const w of partitionWindows) {
      w.closed = streamTime !== null && streamTime >= w.windowStart + spec.sizeMs + spec.graceMs;
    }
    result.streamTimes.set(partition, streamTime);
  }
  return result;
}
