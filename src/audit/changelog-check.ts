/**
 * Replays the changelog (latest value per key, as read_committed saw it) and compares the state it holds with
 * the auditor's own recomputation: exactly the windows neither closed nor emitted, with equal aggregates, and
 * the partition's stream time. Decoding follows the documented changelog format (JSON keys `["w", host,
 * windowStart]` and `["t"]`; values in binary format 2, or in the JSON format 1 of earlier builds; null for a
 * tombstone), written here from scratch.
 */
import type { Enrichment } from './enrichment.js';
import type { ComputedWindow } from './recompute.js';
import type { AuditWrittenRecord, Violation } from './types.js';

const JSON_FORMAT = 1;
const BINARY_FORMAT = 2;
const RELATIVE_TOLERANCE = 1e-9;

export interface StoredWindow {
  host: string;
  windowStart: number;
  count: number;
  cpu: { min: number; max: number; sum: number };
  mem: { min: number; max: number; sum: number };
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  first_event_time: number;
  last_event_time: number;
  enrichment: Enrichment;
}

export type ChangelogEntry =
  | { kind: 'window'; host: string; windowStart: number; value: StoredWindow | null }
  | { kind: 'stream-time'; value: number | null }
  | { kind: 'corrupt'; why: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function json(bytes: Uint8Array): unknown {
  return JSON.parse(utf8.decode(bytes));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(o: Record<string, unknown>, name: string): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${name} is not a finite number`);
  return v;
}

function str(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== 'string') throw new Error(`${name} is not a string`);
  return v;
}

function obj(o: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = o[name];
  if (!isRecord(v)) throw new Error(`${name} is not an object`);
  return v;
}

function stats(o: Record<string, unknown>): StoredWindow['cpu'] {
  return { min: num(o, 'min'), max: num(o, 'max'), sum: num(o, 'sum') };
}

function versioned(bytes: Uint8Array): Record<string, unknown> {
  const value = json(bytes);
  if (!isRecord(value)) throw new Error('value is not a JSON object');
  if (value.v !== JSON_FORMAT) throw new Error(`unknown format version ${JSON.stringify(value.v)}`);
  return value;
}

/**
 * Format 2, as documented: byte 2, a kind byte ('W' window, 'T' stream time), float64 little-endian numbers (a
 * window: windowStart, count, cpu min/max/sum, mem min/max/sum, disk read, disk write, net rx, net tx bytes,
 * first and last event time; the stream time: one), then for a window four strings (host, region, datacenter,
 * role), each a uint16 little-endian length and UTF-8 bytes. Nothing may follow.
 */
class Format2 {
  private offset = 2;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    kind: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 2 || String.fromCharCode(this.view.getUint8(1)) !== kind)
      throw new Error(`format 2 value is not of kind ${kind}`);
  }

  float(name: string): number {
    if (this.offset + 8 > this.bytes.length) throw new Error(`${name} is missing`);
    const v = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    if (!Number.isFinite(v)) throw new Error(`${name} is not a finite number`);
    return v;
  }

  text(name: string): string {
    if (this.offset + 2 > this.bytes.length) throw new Error(`${name} is missing`);
    const length = this.view.getUint16(this.offset, true);
    const from = this.offset + 2;
    if (from + length > this.bytes.length) throw new Error(`${name} is cut off`);
    this.offset = from + length;
    return utf8.decode(this.bytes.subarray(from, from + length));
  }

  done(): void {
    if (this.offset !== this.bytes.length) throw new Error('bytes after the last field');
  }
}

function windowValue(value: Uint8Array): StoredWindow {
  if (value[0] !== BINARY_FORMAT) return jsonWindowValue(versioned(value));
  const r = new Format2(value, 'W');
  const [windowStart, count] = [r.float('windowStart'), r.float('count')];
  const cpu = { min: r.float('cpu.min'), max: r.float('cpu.max'), sum: r.float('cpu.sum') };
  const mem = { min: r.float('mem.min'), max: r.float('mem.max'), sum: r.float('mem.sum') };
  const io = ['disk_read_bytes', 'disk_write_bytes', 'net_rx_bytes', 'net_tx_bytes'].map((n) => r.float(n));
  const [first, last] = [r.float('first_event_time'), r.float('last_event_time')];
  const [host, region, datacenter, role] = ['host', 'region', 'datacenter', 'role'].map((n) => r.text(n));
  r.done();
  return {
    host: host ?? '',
    windowStart,
    count,
    cpu,
    mem,
    disk_read_bytes: io[0] ?? NaN,
    disk_write_bytes: io[1] ?? NaN,
    net_rx_bytes: io[2] ?? NaN,
    net_tx_bytes: io[3] ?? NaN,
    first_event_time: first,
    last_event_time: last,
    enrichment: { region: region ?? '', datacenter: datacenter ?? '', role: role ?? '' },
  };
}

function streamTimeValue(value: Uint8Array): number {
  if (value[0] !== BINARY_FORMAT) return num(versioned(value), 'streamTimeMs');
  const r = new Format2(value, 'T');
  const time = r.float('streamTimeMs');
  r.done();
  return time;
}

function jsonWindowValue(v: Record<string, unknown>): StoredWindow {
  const enrichment = obj(v, 'enrichment');
  return {
    host: str(v, 'host'),
    windowStart: num(v, 'windowStart'),
    count: num(v, 'count'),
    cpu: stats(obj(v, 'cpu')),
    mem: stats(obj(v, 'mem')),
    disk_read_bytes: num(v, 'disk_read_bytes'),
    disk_write_bytes: num(v, 'disk_write_bytes'),
    net_rx_bytes: num(v, 'net_rx_bytes'),
    net_tx_bytes: num(v, 'net_tx_bytes'),
    first_event_time: num(v, 'first_event_time'),
    last_event_time: num(v, 'last_event_time'),
    enrichment: {
      region: str(enrichment, 'region'),
      datacenter: str(enrichment, 'datacenter'),
      role: str(enrichment, 'role'),
    },
  };
}

/** One changelog record; a malformed one is reported, never skipped. */
export function decodeChangelog(key: Uint8Array | null, value: Uint8Array | null): ChangelogEntry {
  try {
    if (key === null) return { kind: 'corrupt', why: 'null key' };
    const k = json(key);
    if (Array.isArray(k) && k.length === 3 && k[0] === 'w') {
      const [, host, start] = k as unknown[];
      if (typeof host !== 'string' || !Number.isSafeInteger(start))
        return { kind: 'corrupt', why: `bad window key ${JSON.stringify(k)}` };
      const windowStart = start as number;
      if (value === null) return { kind: 'window', host, windowStart, value: null };
      const stored = windowValue(value);
      return { kind: 'window', host, windowStart, value: stored };
    }
    if (Array.isArray(k) && k.length === 1 && k[0] === 't') {
      return { kind: 'stream-time', value: value === null ? null : streamTimeValue(value) };
    }
    return { kind: 'corrupt', why: `unknown key ${JSON.stringify(k)}` };
  } catch (error) {
    return { kind: 'corrupt', why: error instanceof Error ? error.message : String(error) };
  }
}

function near(got: number, want: number): boolean {
  return got === want || Math.abs(got - want) <= RELATIVE_TOLERANCE * Math.max(Math.abs(got), Math.abs(want));
}

function differences(s: StoredWindow, w: ComputedWindow, enrichment: Enrichment | null): string[] {
  const diffs: string[] = [];
  const exact = (field: string, got: number | string, want: number | string): void => {
    if (got !== want) diffs.push(`${field} ${JSON.stringify(got)} (expected ${JSON.stringify(want)})`);
  };
  const close = (field: string, got: number, want: number): void => {
    if (!near(got, want)) diffs.push(`${field} ${got} (expected ${want})`);
  };
  exact('host', s.host, w.host);
  exact('windowStart', s.windowStart, w.windowStart);
  exact('count', s.count, w.count);
  exact('cpu.min', s.cpu.min, w.cpuMin);
  exact('cpu.max', s.cpu.max, w.cpuMax);
  close('cpu.sum', s.cpu.sum, w.cpuSum);
  exact('mem.min', s.mem.min, w.memMin);
  exact('mem.max', s.mem.max, w.memMax);
  close('mem.sum', s.mem.sum, w.memSum);
  exact('disk_read_bytes', s.disk_read_bytes, w.diskReadBytes);
  exact('disk_write_bytes', s.disk_write_bytes, w.diskWriteBytes);
  exact('net_rx_bytes', s.net_rx_bytes, w.netRxBytes);
  exact('net_tx_bytes', s.net_tx_bytes, w.netTxBytes);
  exact('first_event_time', s.first_event_time, w.firstEventTime);
  exact('last_event_time', s.last_event_time, w.lastEventTime);
  if (enrichment !== null) {
    exact('enrichment.region', s.enrichment.region, enrichment.region);
    exact('enrichment.datacenter', s.enrichment.datacenter, enrichment.datacenter);
    exact('enrichment.role', s.enrichment.role, enrichment.role);
  }
  return diffs;
}

export interface ChangelogExpectation {
  /** Input partitions audited: their changelog partitions are replayed. */
  partitions: readonly number[];
  /** Windows neither closed nor emitted, per partition: exactly these must be in the state. */
  open: readonly ComputedWindow[];
  /** Final stream time per partition from the valid records (null: none). */
  streamTimes: ReadonlyMap<number, number | null>;
  /** Partitions where a window was emitted before record stream time closed it (idle flush moved stream time). */
  flushed: ReadonlySet<number>;
  /** Expected enrichment of a host, or null when the inventory was not fixed. */
  enrichmentOf: (host: string) => Enrichment | null;
}

export function checkChangelog(
  written: readonly AuditWrittenRecord[],
  expect: ChangelogExpectation,
): { violations: Violation[]; windows: number } {
  const violations: Violation[] = [];
  const mismatch = (detail: string): void => {
    violations.push({ kind: 'changelog-mismatch', detail });
  };
  const audited = new Set(expect.partitions);
  // Latest value per key, in offset order per partition (the reader delivers it so).
  const windows = new Map<number, Map<string, { value: StoredWindow; at: AuditWrittenRecord }>>();
  const streamTimes = new Map<number, number | null>();
  for (const record of written) {
    if (record.topic !== 'changelog' || !audited.has(record.partition)) continue;
    const entry = decodeChangelog(record.key ?? null, record.value ?? null);
    const at = `changelog p${record.partition}@${record.offset.toString()}`;
    if (entry.kind === 'corrupt') {
      mismatch(`${at} cannot be decoded: ${entry.why}`);
      continue;
    }
    if (entry.kind === 'stream-time') {
      streamTimes.set(record.partition, entry.value);
      continue;
    }
    const state =
      windows.get(record.partition) ?? new Map<string, { value: StoredWindow; at: AuditWrittenRecord }>();
    windows.set(record.partition, state);
    const key = JSON.stringify([entry.host, entry.windowStart]);
    if (entry.value === null) state.delete(key);
    else state.set(key, { value: entry.value, at: record });
  }

  const expected = new Map<number, Map<string, ComputedWindow>>();
  for (const w of expect.open) {
    const list = expected.get(w.partition) ?? new Map<string, ComputedWindow>();
    expected.set(w.partition, list);
    list.set(JSON.stringify([w.host, w.windowStart]), w);
  }
  let stored = 0;
  for (const partition of expect.partitions) {
    const state =
      windows.get(partition) ?? new Map<string, { value: StoredWindow; at: AuditWrittenRecord }>();
    const want = expected.get(partition) ?? new Map<string, ComputedWindow>();
    stored += state.size;
    for (const [key, { value, at }] of state) {
      const where = `changelog p${partition}@${at.offset.toString()}`;
      const w = want.get(key);
      if (w === undefined) {
        mismatch(
          `${where}: state holds host ${JSON.stringify(value.host)} window ${value.windowStart} (count ${value.count}), which is no open window of input p${partition}`,
        );
        continue;
      }
      const diffs = differences(value, w, expect.enrichmentOf(w.host));
      if (diffs.length > 0)
        mismatch(`${where}: host ${JSON.stringify(w.host)} window ${w.windowStart}: ${diffs.join(', ')}`);
    }
    for (const [key, w] of want) {
      if (!state.has(key)) {
        mismatch(
          `input p${partition} host ${JSON.stringify(w.host)} window ${w.windowStart} is open (${w.count} records) but not in the changelog's state`,
        );
      }
    }
    const recomputed = expect.streamTimes.get(partition) ?? null;
    if (recomputed === null) continue;
    const storedTime = streamTimes.get(partition) ?? null;
    // An idle flush advances stream time past the records; otherwise it is exactly the largest valid event time.
    const ok =
      storedTime !== null &&
      (expect.flushed.has(partition) ? storedTime >= recomputed : storedTime === recomputed);
    if (!ok) {
      mismatch(
        `changelog p${partition}: stream time ${storedTime ?? 'absent'}, but the records give ${recomputed}`,
      );
    }
  }
  return { violations, windows: stored };
}
