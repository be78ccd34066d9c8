/**
 * The stage's pino logger, made so that secrets never reach a log line. Two layers:
 * 1. redaction by path: fields that hold secrets by name (`password`, `authorization`, a SASL options object, a
 *    TLS key) are replaced wherever the usual shapes put them: the config, kafkajs' log extras, HTTP headers;
 * 2. a last check on every finished line: each configured secret, and the user-info part of any URL
 *    (`https://user:pw@host`), is replaced, so a secret that reached a message, an error or a stack by a route
 *    nobody foresaw is still not written.
 * Both replace with the same marker, so a reader sees that something was withheld and where.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

export const REDACTED = '[redacted]';

/** Up to four levels deep: `{ config: { kafka: { sasl: { password } } } }` is three. */
const DEPTHS = ['', '*.', '*.*.', '*.*.*.', '*.*.*.*.'];
const SECRET_FIELDS = ['password', 'passphrase', 'authorization', 'Authorization', 'secretAccessKey'];
export const REDACT_PATHS = [
  ...DEPTHS.flatMap((depth) => SECRET_FIELDS.map((field) => `${depth}${field}`)),
  // kafkajs' SASL options object and a TLS options object's private key, whole, where they are passed around.
  'sasl',
  '*.sasl',
  'ssl.key',
  '*.ssl.key',
];

/** `scheme://user:password@` or `scheme://token@`: everything between `//` and `@` is credentials. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'\\]+@/gi;

/**
 * Shorter secrets are still redacted by path, but not searched for in the text: replacing every occurrence of
 * two or three characters would garble every line (and could break its JSON) while hiding nothing a path misses.
 */
const MIN_SCRUBBED_SECRET_CHARS = 4;

export interface LoggerOptions {
  readonly level: LogLevel;
  /** One readable line per entry instead of JSON: for a person at a terminal, never for a log shipper. */
  readonly pretty?: boolean;
  /** Fields on every line (the app id). */
  readonly base?: Record<string, unknown>;
  /** Values that must never be written, whatever field or message carries them (configSecrets(config)). */
  readonly secrets?: readonly string[];
}

/** A pino logger with both layers; `destination` defaults to stdout, as pino's does. */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const scrub = lineScrubber(options.secrets ?? []);
  const settings: pino.LoggerOptions = {
    level: options.level,
    ...(options.base ? { base: options.base } : {}),
    // Level names, not pino's numbers: a reader or a log query should not need pino's table.
    formatters: { level: (label) => ({ level: label }), log: withBinariesDescribed },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: options.pretty ? (line) => prettyLine(scrub(line)) : scrub },
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** Deep enough for kafkajs' log extras (`{ kafkajs: { request: { payload } } }`) and the stage's own fields. */
const MAX_DESCRIBED_DEPTH = 6;

/**
 * The fields with every Buffer or typed array (however deep, within MAX_DESCRIBED_DEPTH) replaced by its size.
 * Pino's path redaction (@pinojs/redact 0.4.0) throws on a binary value under a wildcard path (it reads
 * `Buffer.prototype.parent`, a getter that throws off an instance), and a logging call that throws inside kafkajs's
 * log creator crashed the consumer: kafkajs's debug logs (`KAFKAJS_LOG_LEVEL=debug`) carry request payloads. A
 * byte dump would not help a reader anyway. Objects without binaries are returned as they are, not copied.
 */
export function withBinariesDescribed(fields: Record<string, unknown>): Record<string, unknown> {
  return described(fields, 0) as Record<string, unknown>;
}

function described(value: unknown, depth: number): unknown {
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (depth >= MAX_DESCRIBED_DEPTH || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const items = value as unknown[];
    let copy: unknown[] | undefined;
    items.forEach((item, index) => {
      const replaced = described(item, depth + 1);
      if (replaced !== item) (copy ??= [...items])[index] = replaced;
    });
    return copy ?? items;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value; // errors, dates, class instances: pino's
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const replaced = described(field, depth + 1);
    if (replaced !== field) (copy ??= { ...value })[key] = replaced;
  }
  return copy ?? value;
}

/** The function applied to each serialised line: secrets and URL credentials out, everything else untouched. */
export function lineScrubber(secrets: readonly string[]): (line: string) => string {
  // Inside a JSON line a secret appears escaped as JSON escapes a string, and only inside a string, so replacing
  // that form keeps the line valid JSON. Longest first: a secret that contains another is replaced whole.
  const needles = [...new Set(secrets)]
    .filter((secret) => secret.length >= MIN_SCRUBBED_SECRET_CHARS)
    .map((secret) => JSON.stringify(secret).slice(1, -1))
    .sort((a, b) => b.length - a.length);
  return (line) => {
    let scrubbed = line.replace(URL_USERINFO, `$1${REDACTED}@`);
    for (const needle of needles) scrubbed = scrubbed.replaceAll(needle, REDACTED);
    return scrubbed;
  };
}

/** Fields every line has, shown in the line's head rather than among its details. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'app']);

/**
 * `12:03:04.567 WARN  message  key=value …` from one of this logger's JSON lines. Runs after the scrubber, so
 * it only ever sees redacted text; a line that is not JSON is passed through.
 */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = (typeof entry.level === 'string' ? entry.level : '').toUpperCase().padEnd(5);
  const details = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const message = typeof entry.msg === 'string' ? entry.msg : '';
  return `${[time, level, message, ...details].filter((part) => part !== '').join(' ')}\n`;
}
