import { Buffer } from 'node:buffer';

import type { Enrichment, MinMaxSum, WindowAggregate } from '../domain/aggregate.js';
import { FatalError, type StageErrorOptions } from '../errors/errors.js';

/**
 * Every changelog encode and decode lives here, so the format can change in one place (design §3).
 * A value whose strings UTF-8 cannot carry (a lone surrogate) is still written as JSON.
 * Keys must be byte-identical for the same state key, or compaction would keep stale values: they are JSON
 * arrays, whose serialization is deterministic, and they have not changed since the first format.
 * Values are written in the compact binary format 2; values in the JSON format 1 of earlier builds are still
 * read (their first byte is `{`, never the format byte 2), so a changelog written by an older build restores.
 */
export const CHANGELOG_FORMAT_VERSION = 2;

/** The JSON values of earlier builds: read, never written. */
const JSON_FORMAT_VERSION = 1;
const JSON_FIRST_BYTE = 0x7b; // '{'
const KIND_WINDOW = 0x57; // 'W'
const KIND_STREAM_TIME = 0x54; // 'T'
/** Format byte, kind byte; a window's 14 numbers; its four strings, each after a uint16 length. */
const HEADER_BYTES = 2;
const WINDOW_NUMBERS = 14;
const STRING_LENGTH_BYTES = 2;
const MAX_STRING_BYTES = 0xffff;

export type ChangelogChange =
  | { kind: 'window'; host: string; windowStart: number; aggregate: WindowAggregate | null }
  | { kind: 'stream-time'; streamTimeMs: number | null };

/** The changelog cannot be trusted: the task's state must be dropped and the problem surfaced, never guessed around. */
export class ChangelogCorruptError extends FatalError {
  constructor(message: string, options?: StageErrorOptions) {
    super('CHANGELOG_CORRUPT', message, options);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toJsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Whether JSON.stringify escapes this UTF-16 code unit whatever surrounds it: a control character, `"` or `\`. */
function isJsonEscaped(code: number): boolean {
  return code < 0x20 || code === 0x22 || code === 0x5c;
}

/** Whether JSON.stringify would escape anything in `text` (quote, backslash, control characters), or any surrogate. */
function needsJsonEscaping(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (isJsonEscaped(code) || (code >= 0xd800 && code <= 0xdfff)) return true;
  }
  return false;
}

/** `["w","`, `",` and `]`. */
const WINDOW_KEY_PUNCTUATION_BYTES = 9;

/** Whether every character of `text` is ASCII: its UTF-8 is one byte per character, and no surrogate is alone. */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * ASCII `text` into `out` at `at`, one byte per character. For the short strings of a changelog record this loop
 * is cheaper than `Buffer.write`'s call into native UTF-8 encoding.
 */
function writeAscii(out: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i += 1) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/** `String(windowStart)` for the last start asked: prepare() writes a start's keys one after the other. */
let lastStart = Number.NaN;
let lastStartDigits = '';
function startDigits(windowStart: number): string {
  if (windowStart !== lastStart) {
    lastStart = windowStart;
    lastStartDigits = String(windowStart);
  }
  return lastStartDigits;
}

/** The key of a host that JSON escapes or that is not ASCII, or of a start that is not a safe integer. */
function encodeUnusualWindowKey(host: string, windowStart: number): Buffer {
  if (needsJsonEscaping(host) || !Number.isSafeInteger(windowStart))
    return toJsonBytes(['w', host, windowStart]);
  return Buffer.from(`["w","${host}",${windowStart}]`, 'utf8');
}

/**
 * `["w",host,windowStart]` as JSON, byte for byte (a window start is a safe integer, whose JSON is its decimal
 * string). A host of ASCII that JSON leaves as it is (no control character, `"` or `\`) is checked and copied in
 * one pass; any other goes through JSON.stringify or UTF-8. One key per changelog write: the stringify of a
 * three-element array, then the template string and its UTF-8 encoding, and later separate escaping, ASCII and
 * copy passes over the host were visible shares of the profile.
 */
export function encodeWindowKey(host: string, windowStart: number): Buffer {
  if (!Number.isSafeInteger(windowStart)) return encodeUnusualWindowKey(host, windowStart);
  const start = startDigits(windowStart);
  const out = Buffer.allocUnsafe(WINDOW_KEY_PUNCTUATION_BYTES + host.length + start.length);
  let at = writeAscii(out, 0, '["w","');
  for (let i = 0; i < host.length; i += 1) {
    const code = host.charCodeAt(i);
    if (isJsonEscaped(code) || code > 0x7f) return encodeUnusualWindowKey(host, windowStart);
    out[at + i] = code;
  }
  at += host.length;
  at = writeAscii(out, at, '",');
  at = writeAscii(out, at, start);
  out[at] = 0x5d; // ']'
  return out;
}

export function encodeStreamTimeKey(): Buffer {
  return toJsonBytes(['t']);
}

/** JSON turns NaN and Infinity into null; refusing here keeps a bad number from poisoning every later restore. */
function finite(name: string, value: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`cannot encode ${name} = ${value}: not a finite number`);
  return value;
}

/** Mirrors the decoder's check, so a value that could not be restored is refused when written, not at restore. */
function integer(name: string, value: number): number {
  if (!Number.isSafeInteger(value))
    throw new RangeError(`cannot encode ${name} = ${value}: not a safe integer`);
  return value;
}

function encodeMinMaxSum(name: string, s: MinMaxSum): MinMaxSum {
  return {
    min: finite(`${name}.min`, s.min),
    max: finite(`${name}.max`, s.max),
    sum: finite(`${name}.sum`, s.sum),
  };
}

function stringBytes(name: string, value: string, ascii: boolean): number {
  const length = ascii ? value.length : Buffer.byteLength(value, 'utf8');
  if (length > MAX_STRING_BYTES)
    throw new RangeError(`cannot encode ${name}: ${length} bytes, at most ${MAX_STRING_BYTES}`);
  return length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Format 1, JSON: only for strings UTF-8 cannot carry. Fields one by one: the bytes do not depend on the object. */
function encodeJsonAggregate(agg: WindowAggregate): Buffer {
  return toJsonBytes({
    v: JSON_FORMAT_VERSION,
    host: agg.host,
    windowStart: integer('windowStart', agg.windowStart),
    count: integer('count', agg.count),
    cpu: encodeMinMaxSum('cpu', agg.cpu),
    mem: encodeMinMaxSum('mem', agg.mem),
    disk_read_bytes: integer('disk_read_bytes', agg.disk_read_bytes),
    disk_write_bytes: integer('disk_write_bytes', agg.disk_write_bytes),
    net_rx_bytes: integer('net_rx_bytes', agg.net_rx_bytes),
    net_tx_bytes: integer('net_tx_bytes', agg.net_tx_bytes),
    first_event_time: integer('first_event_time', agg.first_event_time),
    last_event_time: integer('last_event_time', agg.last_event_time),
    enrichment: {
      region: agg.enrichment.region,
      datacenter: agg.enrichment.datacenter,
      role: agg.enrichment.role,
    },
  });
}

/**
 * Format 2 of a window value: byte 2, byte 'W', fourteen float64 little-endian numbers (windowStart, count,
 * cpu min/max/sum, mem min/max/sum, disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes,
 * first_event_time, last_event_time; the integers among them are safe integers, exact in a float64), then host,
 * region, datacenter and role, each a uint16 little-endian byte length and its UTF-8 bytes. Nothing follows.
 */
export function encodeAggregate(agg: WindowAggregate): Buffer {
  const { host } = agg;
  const { region, datacenter, role } = agg.enrichment;
  // UTF-8 cannot carry a lone surrogate (it would come back as U+FFFD); JSON escapes it, and is still read.
  // Each string on its own: joined, a lone high surrogate ending one and a lone low one starting the next would
  // look like a pair, and UTF-8 would turn both into U+FFFD.
  // Nearly always every string is ASCII, and the checks for surrogates and UTF-8 lengths can be skipped.
  const ascii = isAscii(host) && isAscii(region) && isAscii(datacenter) && isAscii(role);
  if (
    !ascii &&
    (LONE_SURROGATE.test(host) ||
      LONE_SURROGATE.test(region) ||
      LONE_SURROGATE.test(datacenter) ||
      LONE_SURROGATE.test(role))
  )
    return encodeJsonAggregate(agg);
  const hostBytes = stringBytes('host', host, ascii);
  const regionBytes = stringBytes('enrichment.region', region, ascii);
  const datacenterBytes = stringBytes('enrichment.datacenter', datacenter, ascii);
  const roleBytes = stringBytes('enrichment.role', role, ascii);
  const out = Buffer.allocUnsafe(
    HEADER_BYTES +
      WINDOW_NUMBERS * 8 +
      4 * STRING_LENGTH_BYTES +
      hostBytes +
      regionBytes +
      datacenterBytes +
      roleBytes,
  );
  out[0] = CHANGELOG_FORMAT_VERSION;
  out[1] = KIND_WINDOW;
  let at = out.writeDoubleLE(integer('windowStart', agg.windowStart), HEADER_BYTES);
  at = out.writeDoubleLE(integer('count', agg.count), at);
  at = out.writeDoubleLE(finite('cpu.min', agg.cpu.min), at);
  at = out.writeDoubleLE(finite('cpu.max', agg.cpu.max), at);
  at = out.writeDoubleLE(finite('cpu.sum', agg.cpu.sum), at);
  at = out.writeDoubleLE(finite('mem.min', agg.mem.min), at);
  at = out.writeDoubleLE(finite('mem.max', agg.mem.max), at);
  at = out.writeDoubleLE(finite('mem.sum', agg.mem.sum), at);
  at = out.writeDoubleLE(integer('disk_read_bytes', agg.disk_read_bytes), at);
  at = out.writeDoubleLE(integer('disk_write_bytes', agg.disk_write_bytes), at);
  at = out.writeDoubleLE(integer('net_rx_bytes', agg.net_rx_bytes), at);
  at = out.writeDoubleLE(integer('net_tx_bytes', agg.net_tx_bytes), at);
  at = out.writeDoubleLE(integer('first_event_time', agg.first_event_time), at);
  at = out.writeDoubleLE(integer('last_event_time', agg.last_event_time), at);
  at = writeString(out, at, host, hostBytes, ascii);
  at = writeString(out, at, region, regionBytes, ascii);
  at = writeString(out, at, datacenter, datacenterBytes, ascii);
  writeString(out, at, role, roleBytes, ascii);
  return out;
}

function writeString(out: Buffer, at: number, value: string, length: number, ascii: boolean): number {
  const start = out.writeUInt16LE(length, at);
  return ascii ? writeAscii(out, start, value) : start + out.write(value, start, length, 'utf8');
}

/** Format 2 of the stream time: byte 2, byte 'T', one float64 little-endian safe integer. */
export function encodeStreamTime(streamTimeMs: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + 8);
  out[0] = CHANGELOG_FORMAT_VERSION;
  out[1] = KIND_STREAM_TIME;
  out.writeDoubleLE(integer('streamTimeMs', streamTimeMs), HEADER_BYTES);
  return out;
}

function parseJson(what: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (error) {
    throw new ChangelogCorruptError(`changelog ${what} is not UTF-8 JSON`, { cause: error });
  }
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads typed fields of one decoded value, naming the offending field when one is wrong. */
class FieldReader {
  constructor(
    private readonly what: string,
    private readonly obj: JsonObject,
  ) {}

  string(name: string): string {
    const value = this.obj[name];
    if (typeof value !== 'string') throw this.wrong(name, 'a string');
    return value;
  }

  number(name: string): number {
    const value = this.obj[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.wrong(name, 'a finite number');
    return value;
  }

  integer(name: string): number {
    const value = this.obj[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw this.wrong(name, 'a safe integer');
    return value;
  }

  object(name: string): FieldReader {
    const value = this.obj[name];
    if (!isObject(value)) throw this.wrong(name, 'an object');
    return new FieldReader(`${this.what}.${name}`, value);
  }

  private wrong(name: string, expected: string): ChangelogCorruptError {
    return new ChangelogCorruptError(`changelog ${this.what}.${name} is not ${expected}`);
  }
}

function versioned(what: string, bytes: Uint8Array): FieldReader {
  const parsed = parseJson(what, bytes);
  if (!isObject(parsed)) throw new ChangelogCorruptError(`changelog ${what} is not a JSON object`);
  if (parsed.v !== JSON_FORMAT_VERSION) {
    throw new ChangelogCorruptError(
      `changelog ${what} has unknown JSON format version ${JSON.stringify(parsed.v)} (this build reads ${JSON_FORMAT_VERSION})`,
    );
  }
  return new FieldReader(what, parsed);
}

/** Reads a format 2 value front to back, naming the field that is wrong. */
class BinaryReader {
  private at = HEADER_BYTES;
  private readonly view: DataView;

  constructor(
    private readonly what: string,
    private readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  number(name: string): number {
    if (this.at + 8 > this.bytes.length) throw this.wrong(`${name} is cut off`);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isFinite(value)) throw this.wrong(`${name} is not a finite number`);
    return value;
  }

  integer(name: string): number {
    const value = this.number(name);
    if (!Number.isSafeInteger(value)) throw this.wrong(`${name} is not a safe integer`);
    return value;
  }

  string(name: string): string {
    if (this.at + STRING_LENGTH_BYTES > this.bytes.length) throw this.wrong(`${name} is cut off`);
    const length = this.view.getUint16(this.at, true);
    const start = this.at + STRING_LENGTH_BYTES;
    if (start + length > this.bytes.length) throw this.wrong(`${name} is cut off`);
    this.at = start + length;
    try {
      return utf8.decode(this.bytes.subarray(start, start + length));
    } catch (error) {
      throw new ChangelogCorruptError(`changelog ${this.what} ${name} is not UTF-8`, { cause: error });
    }
  }

  end(): void {
    if (this.at !== this.bytes.length) {
      throw this.wrong(`has ${this.bytes.length - this.at} bytes after its last field`);
    }
  }

  private wrong(detail: string): ChangelogCorruptError {
    return new ChangelogCorruptError(`changelog ${this.what} ${detail}`);
  }
}

/** Format 2 or the JSON format 1 of earlier builds, by the first byte; a binary value of the expected kind. */
function binaryOf(what: string, bytes: Uint8Array, kind: number): BinaryReader | undefined {
  const first = bytes[0];
  if (first === JSON_FIRST_BYTE) return undefined;
  if (first !== CHANGELOG_FORMAT_VERSION) {
    throw new ChangelogCorruptError(
      `changelog ${what} has unknown format ${first ?? '(empty)'} (this build reads ${CHANGELOG_FORMAT_VERSION} and JSON ${JSON_FORMAT_VERSION})`,
    );
  }
  if (bytes[1] !== kind) {
    throw new ChangelogCorruptError(
      `changelog ${what} has kind byte ${bytes[1] ?? '(none)'}, expected ${kind}`,
    );
  }
  return new BinaryReader(what, bytes);
}

function decodeMinMaxSum(r: FieldReader): MinMaxSum {
  return { min: r.number('min'), max: r.number('max'), sum: r.number('sum') };
}

function decodeEnrichment(r: FieldReader): Enrichment {
  return { region: r.string('region'), datacenter: r.string('datacenter'), role: r.string('role') };
}

function decodeJsonAggregate(bytes: Uint8Array): WindowAggregate {
  const r = versioned('window value', bytes);
  return {
    host: r.string('host'),
    windowStart: r.integer('windowStart'),
    count: r.integer('count'),
    cpu: decodeMinMaxSum(r.object('cpu')),
    mem: decodeMinMaxSum(r.object('mem')),
    disk_read_bytes: r.integer('disk_read_bytes'),
    disk_write_bytes: r.integer('disk_write_bytes'),
    net_rx_bytes: r.integer('net_rx_bytes'),
    net_tx_bytes: r.integer('net_tx_bytes'),
    first_event_time: r.integer('first_event_time'),
    last_event_time: r.integer('last_event_time'),
    enrichment: decodeEnrichment(r.object('enrichment')),
  };
}

function decodeBinaryAggregate(r: BinaryReader): WindowAggregate {
  const windowStart = r.integer('windowStart');
  const count = r.integer('count');
  const cpu = { min: r.number('cpu.min'), max: r.number('cpu.max'), sum: r.number('cpu.sum') };
  const mem = { min: r.number('mem.min'), max: r.number('mem.max'), sum: r.number('mem.sum') };
  const disk_read_bytes = r.integer('disk_read_bytes');
  const disk_write_bytes = r.integer('disk_write_bytes');
  const net_rx_bytes = r.integer('net_rx_bytes');
  const net_tx_bytes = r.integer('net_tx_bytes');
  const first_event_time = r.integer('first_event_time');
  const last_event_time = r.integer('last_event_time');
  const host = r.string('host');
  const enrichment = {
    region: r.string('enrichment.region'),
    datacenter: r.string('enrichment.datacenter'),
    role: r.string('enrichment.role'),
  };
  r.end();
  return {
    host,
    windowStart,
    count,
    cpu,
    mem,
    disk_read_bytes,
    disk_write_bytes,
    net_rx_bytes,
    net_tx_bytes,
    first_event_time,
    last_event_time,
    enrichment,
  };
}

function decodeAggregate(host: string, windowStart: number, bytes: Uint8Array): WindowAggregate {
  const binary = binaryOf('window value', bytes, KIND_WINDOW);
  const agg = binary ? decodeBinaryAggregate(binary) : decodeJsonAggregate(bytes);
  if (agg.host !== host || agg.windowStart !== windowStart) {
    throw new ChangelogCorruptError(
      `changelog value for host ${JSON.stringify(host)} window ${windowStart} ` +
        `holds host ${JSON.stringify(agg.host)} window ${agg.windowStart}`,
    );
  }
  if (agg.count < 1) throw new ChangelogCorruptError(`changelog window value has count ${agg.count}`);
  return agg;
}

function decodeStreamTime(bytes: Uint8Array): number {
  const binary = binaryOf('stream-time value', bytes, KIND_STREAM_TIME);
  if (!binary) return versioned('stream-time value', bytes).integer('streamTimeMs');
  const streamTimeMs = binary.integer('streamTimeMs');
  binary.end();
  return streamTimeMs;
}

/** Decodes one changelog record; a null value is a tombstone. Throws ChangelogCorruptError on anything unexpected. */
export function decodeChangelogEntry(key: Uint8Array, value: Uint8Array | null): ChangelogChange {
  const parsedKey = parseJson('key', key);
  if (Array.isArray(parsedKey)) {
    const [tag, host, windowStart] = parsedKey as unknown[];
    if (
      tag === 'w' &&
      parsedKey.length === 3 &&
      typeof host === 'string' &&
      Number.isSafeInteger(windowStart)
    ) {
      const start = windowStart as number;
      return {
        kind: 'window',
        host,
        windowStart: start,
        aggregate: value === null ? null : decodeAggregate(host, start, value),
      };
    }
    if (tag === 't' && parsedKey.length === 1) {
      return { kind: 'stream-time', streamTimeMs: value === null ? null : decodeStreamTime(value) };
    }
  }
  throw new ChangelogCorruptError(`changelog key is not a known state key: ${JSON.stringify(parsedKey)}`);
}
