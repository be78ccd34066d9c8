/**
 * The auditor's own decoder for the input's Confluent wire format: magic byte 0, a 4-byte big-endian schema id,
 * then the Avro body written with that schema. Writer schemas come from the registry by id (the auditor's own
 * HTTP client); the reader schema is the newest ServerMetric in schemas/. Each verdict is a README poison reason.
 */
import { readFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { Type, type Schema } from 'avsc';
import { DeadlineExceeded } from '../errors/deadline.js';
import type { AuditInputRecord, AuditMetric, AuditRollup } from './types.js';

const MAGIC = 0;
const HEADER_BYTES = 5;

function schemasDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'server-metric-v2.avsc'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`audit: cannot find schemas/ above ${__dirname}`);
  }
}

/** A schema of the contract, from its .avsc file. */
export function contractType(file: 'server-metric-v2.avsc' | 'metric-rollup.avsc' | 'host-info.avsc'): Type {
  return Type.forSchema(JSON.parse(readFileSync(join(schemasDir(), file), 'utf8')) as Schema);
}

export interface RegistryAccess {
  url: string;
  auth?: { username: string; password: string } | undefined;
  /** PEM text of a CA to trust for an https registry. */
  ca?: string | undefined;
  /** How long one request may go without an answer; REGISTRY_TIMEOUT_MS when not given. */
  timeoutMs?: number | undefined;
}

/** The writer schema text for an id, or null when the registry does not know the id (HTTP 404). */
export type SchemaLookup = (id: number) => Promise<string | null>;

/** How long one registry request may go without an answer before it is abandoned and asked again. */
const REGISTRY_TIMEOUT_MS = 10_000;
const REGISTRY_ATTEMPTS = 3;

/**
 * GET <url>/schemas/ids/<id> of the Confluent-compatible API, asked again when the registry closed the
 * connection without an answer (Apicurio 3.3 does so about once in a thousand connections) or left it without
 * one for REGISTRY_TIMEOUT_MS: an audit fails with the reason, it never waits forever.
 */
export function registryLookup(access: RegistryAccess): SchemaLookup {
  const lookup = lookupOnce(access);
  return async (id) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await lookup(id);
      } catch (error) {
        const again =
          error instanceof DeadlineExceeded || (error as NodeJS.ErrnoException).code === 'ECONNRESET';
        if (!again || attempt >= REGISTRY_ATTEMPTS) throw error;
      }
    }
  };
}

function lookupOnce(access: RegistryAccess): SchemaLookup {
  return (id) =>
    new Promise((resolve, reject) => {
      const url = new URL(`${access.url.replace(/\/+$/, '')}/schemas/ids/${id}`);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (access.auth !== undefined) {
        const token = Buffer.from(`${access.auth.username}:${access.auth.password}`).toString('base64');
        headers.authorization = `Basic ${token}`;
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { headers, ...(access.ca === undefined ? {} : { ca: access.ca }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 404) {
            resolve(null);
            return;
          }
          if (res.statusCode !== 200) {
            reject(
              new Error(
                `audit: registry answered HTTP ${res.statusCode ?? '?'} for schema id ${id}: ${body}`,
              ),
            );
            return;
          }
          try {
            const parsed = JSON.parse(body) as { schema?: unknown };
            if (typeof parsed.schema !== 'string') throw new Error('no "schema" string');
            resolve(parsed.schema);
          } catch (error) {
            reject(new Error(`audit: registry answer for schema id ${id} is not a schema: ${String(error)}`));
          }
        });
        res.on('error', reject);
        // A connection destroyed mid-answer (the timeout below) may close the answer without an 'error'.
        res.on('close', () => {
          if (!res.complete) {
            const error: NodeJS.ErrnoException = new Error(
              `audit: registry answer for schema id ${id} was cut off`,
            );
            error.code = 'ECONNRESET';
            reject(error);
          }
        });
      });
      const timeoutMs = access.timeoutMs ?? REGISTRY_TIMEOUT_MS;
      req.setTimeout(timeoutMs, () => {
        req.destroy(new DeadlineExceeded(`audit: registry request for schema id ${id}`, timeoutMs));
      });
      req.on('error', reject);
      req.end();
    });
}

type Verdict = AuditInputRecord['decoded'];

type WriterState =
  { kind: 'unknown' } | { kind: 'incompatible' } | { kind: 'ok'; writer: Type; resolver: unknown };

/** Decodes input values; writer schemas are fetched once per id (prepare) and decoding is then synchronous. */
export class MetricCodec {
  private readonly reader = contractType('server-metric-v2.avsc');
  private readonly writers = new Map<number, WriterState>();

  constructor(private readonly lookup: SchemaLookup) {}

  static schemaId(value: Uint8Array): number | null {
    if (value.length < HEADER_BYTES || value[0] !== MAGIC) return null;
    return new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1);
  }

  async prepare(values: Iterable<Uint8Array | null>): Promise<void> {
    for (const value of values) {
      if (value === null) continue;
      const id = MetricCodec.schemaId(value);
      if (id === null || this.writers.has(id)) continue;
      const text = await this.lookup(id);
      this.writers.set(id, text === null ? { kind: 'unknown' } : this.resolve(text));
    }
  }

  private resolve(text: string): WriterState {
    try {
      const writer = Type.forSchema(JSON.parse(text) as Schema);
      return { kind: 'ok', writer, resolver: this.reader.createResolver(writer) };
    } catch {
      return { kind: 'incompatible' };
    }
  }

  decode(value: Uint8Array | null): Verdict {
    if (value === null) return { kind: 'poison', reason: 'null-value' };
    const id = MetricCodec.schemaId(value);
    if (id === null) return { kind: 'poison', reason: 'bad-magic-byte' };
    const state = this.writers.get(id);
    if (state === undefined) throw new Error(`audit: schema id ${id} was not prepared`);
    if (state.kind === 'unknown') return { kind: 'poison', reason: 'unknown-schema-id' };
    if (state.kind === 'incompatible') return { kind: 'poison', reason: 'incompatible-schema' };
    const body = Buffer.from(value.buffer, value.byteOffset + HEADER_BYTES, value.byteLength - HEADER_BYTES);
    try {
      // avsc's typings do not expose the resolver parameter's type; it is the value createResolver returned.
      const metric = (this.reader.fromBuffer as (b: Buffer, r: unknown) => unknown)(body, state.resolver);
      return { kind: 'metric', metric: { ...(metric as AuditMetric) } };
    } catch {
      return { kind: 'poison', reason: 'avro-decode' };
    }
  }
}

const HEADERLESS = contractType('metric-rollup.avsc');

/** An output value (wire format, MetricRollup); null when it is not one. */
export function decodeRollup(value: Uint8Array | null): AuditRollup | null {
  if (value === null || MetricCodec.schemaId(value) === null) return null;
  try {
    const body = Buffer.from(value.buffer, value.byteOffset + HEADER_BYTES, value.byteLength - HEADER_BYTES);
    return { ...(HEADERLESS.fromBuffer(body) as AuditRollup) };
  } catch {
    return null;
  }
}
