/**
 * ServerMetric decoding, split in two: `prepare` looks up writer schemas (async, may fail
 * retriably, done before any transaction opens), `decode` is synchronous and total: every value becomes either
 * a metric or a poison pill with its reason.
 */
import type { Resolver, Type } from 'avsc';
import type { DecodedInput } from '../domain/process-record.js';
import type { ServerMetric } from '../domain/metric.js';
import type { RegistryClient } from './registry-client.js';
import { READER_SCHEMA, avroType } from './schema-files.js';
import { decodeBody, wireHeaderProblem, wireSchemaId } from './wire-format.js';
import { errorMessage } from '../errors/message.js';

type WriterEntry =
  | { kind: 'resolvable'; resolver: Resolver | undefined }
  | { kind: 'unknown'; recheckAt: number }
  | { kind: 'incompatible'; detail: string };

/**
 * How long a 404 for a schema id is believed. A registered id never changes, so found and unresolvable writers are
 * cached for good; a 404 may be only for now (a registry replica not yet caught up with a schema registered on the
 * leader, an ingress answering 404 during a deploy). Believed for ever, it would dead-letter every valid record of
 * that id until a restart; believed 30 s, the damage is bounded to that window and a really unknown id costs one
 * lookup per 30 s per process.
 */
export const UNKNOWN_SCHEMA_ID_RECHECK_MS = 30_000;

export class MetricDecoder {
  private readonly reader: Type = avroType(READER_SCHEMA);
  /** Found and unresolvable writers for good; a 404 until its `recheckAt`. */
  private readonly writers = new Map<number, WriterEntry>();

  constructor(
    private readonly registry: Pick<RegistryClient, 'writerSchema'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ensures every schema id among `values` is known; throws RegistryUnavailableError when it cannot tell. */
  async prepare(values: readonly (Buffer | null)[]): Promise<void> {
    for (const schemaId of this.missingSchemaIds(values)) {
      const lookup = await this.registry.writerSchema(schemaId);
      this.writers.set(
        schemaId,
        lookup.kind === 'found'
          ? this.entryFor(lookup.type)
          : { kind: 'unknown', recheckAt: this.now() + UNKNOWN_SCHEMA_ID_RECHECK_MS },
      );
    }
  }

  /** Whether `prepare` would look nothing up: every schema id among `values` is known now. */
  isPrepared(values: readonly (Buffer | null)[]): boolean {
    return this.missingSchemaIds(values).size === 0;
  }

  /** The schema ids among `values` that `prepare` has to look up. */
  private missingSchemaIds(values: readonly (Buffer | null)[]): Set<number> {
    const missing = new Set<number>();
    for (const value of values) {
      if (!value) continue;
      const schemaId = wireSchemaId(value);
      if (schemaId !== undefined && !this.isKnown(schemaId)) missing.add(schemaId);
    }
    return missing;
  }

  private isKnown(schemaId: number): boolean {
    const entry = this.writers.get(schemaId);
    return entry !== undefined && (entry.kind !== 'unknown' || this.now() < entry.recheckAt);
  }

  private entryFor(writer: Type): WriterEntry {
    if (writer.equals(this.reader)) return { kind: 'resolvable', resolver: undefined };
    try {
      return { kind: 'resolvable', resolver: this.reader.createResolver(writer) };
    } catch (error) {
      return { kind: 'incompatible', detail: errorMessage(error) };
    }
  }

  decode(value: Buffer | null): DecodedInput {
    if (value === null) return poison('null-value', 'record value is null');
    const schemaId = wireSchemaId(value);
    if (schemaId === undefined) return poison('bad-magic-byte', wireHeaderProblem(value).detail);
    const writer = this.writers.get(schemaId);
    if (!writer) {
      // prepare() was skipped for this value: a bug in the caller, never a property of the data.
      throw new Error(`schema id ${schemaId} was not prepared before decode`);
    }
    if (writer.kind === 'unknown')
      return poison('unknown-schema-id', `schema id ${schemaId} is not in the registry`);
    if (writer.kind === 'incompatible') {
      return poison(
        'incompatible-schema',
        `schema id ${schemaId} cannot be read as ServerMetric v2: ${writer.detail}`,
      );
    }
    try {
      return { kind: 'value', value: decodeBody(this.reader, value, writer.resolver) as ServerMetric };
    } catch (error) {
      return poison('avro-decode', `schema id ${schemaId}: ${errorMessage(error)}`);
    }
  }
}

function poison(
  reason: 'null-value' | 'bad-magic-byte' | 'unknown-schema-id' | 'incompatible-schema' | 'avro-decode',
  message: string,
): DecodedInput {
  return { kind: 'poison', poison: { reason, message } };
}
