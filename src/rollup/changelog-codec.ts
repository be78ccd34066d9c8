import { Buffer } from 'node:buffer';

import type { Enrichment, MinMaxSum, WindowAggregate } from '../domain/aggregate.js';
import { FatalError, type StageErrorOptions } from '../errors/errors.js';

/**
 * Every changelog encode and decode lives here, so the format (JSON today) can change in one place.
 * Keys must be byte-identical for the same state key, or compaction would keep stale values: they are
 * JSON arrays, whose serialization is deterministic. Values carry a version so a future format can coexist.
 */
export const CHANGELOG_FORMAT_VERSION = 1;

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

export function encodeWindowKey(host: string, windowStart: number): Buffer {
  return toJsonBytes(['w', host, windowStart]);
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

export function encodeAggregate(agg: WindowAggregate): Buffer {
  // Fields are listed one by one so the bytes do not depend on how the object was built.
  return toJsonBytes({
    v: CHANGELOG_FORMAT_VERSION,
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

export function encodeStreamTime(streamTimeMs: number): Buffer {
  return toJsonBytes({ v: CHANGELOG_FORMAT_VERSION, streamTimeMs: integer('streamTimeMs', streamTimeMs) });
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
  if (parsed.v !== CHANGELOG_FORMAT_VERSION) {
    throw new ChangelogCorruptError(
      `changelog ${what} has unknown format version ${JSON.stringify(parsed.v)} (this build reads ${CHANGELOG_FORMAT_VERSION})`,
    );
  }
  return new FieldReader(what, parsed);
}

function decodeMinMaxSum(r: FieldReader): MinMaxSum {
  return { min: r.number('min'), max: r.number('max'), sum: r.number('sum') };
}

function decodeEnrichment(r: FieldReader): Enrichment {
  return { region: r.string('region'), datacenter: r.string('datacenter'), role: r.string('role') };
}

function decodeAggregate(host: string, windowStart: number, bytes: Uint8Array): WindowAggregate {
  const r = versioned('window value', bytes);
  const agg: WindowAggregate = {
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
  return versioned('stream-time value', bytes).integer('streamTimeMs');
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
