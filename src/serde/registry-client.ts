/**
 * The schema registry, seen from the stage: lookups are asynchronous and may fail in a retriable way (outage,
 * 5xx, network), while a 404 is a fact about the data (the id does not exist) and never changes on retry.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Schema, Type } from 'avsc';
import { FatalError, RegistryUnavailableError } from '../errors/errors.js';

export interface RegistrySettings {
  url: string;
  auth?: { username: string; password: string } | undefined;
}

export type WriterSchemaLookup = { kind: 'found'; type: Type } | { kind: 'not-found' };

interface ResponseErrorShape {
  status?: number;
  message?: string;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as ResponseErrorShape | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

export class RegistryClient {
  private readonly registry: SchemaRegistry;

  constructor(settings: RegistrySettings) {
    this.registry = new SchemaRegistry({
      host: settings.url,
      clientId: 'eos-rollup',
      ...(settings.auth ? { auth: settings.auth } : {}),
      // Retries stay short: the engine owns back-off and the circuit breaker, outside any open transaction.
      retry: { retries: 1, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 },
    });
  }

  async writerSchema(schemaId: number): Promise<WriterSchemaLookup> {
    try {
      return { kind: 'found', type: (await this.registry.getSchema(schemaId)) as unknown as Type };
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return { kind: 'not-found' };
      throw this.translate(error, `looking up schema id ${schemaId}`);
    }
  }

  /** Registers (or finds) a schema under `<topic>-value` (topic name strategy) and returns its id. */
  async register(topic: string, schema: Schema): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: 'AVRO' as never, schema: JSON.stringify(schema) },
        { subject: `${topic}-value` },
      );
      return id;
    } catch (error) {
      throw this.translate(error, `registering a schema under ${topic}-value`);
    }
  }

  private translate(error: unknown, doing: string): Error {
    const status = statusOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (status === 401 || status === 403) {
      return new FatalError(
        'AUTHENTICATION_FAILED',
        `schema registry refused ${doing} (HTTP ${status}): check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`,
        { cause: error },
      );
    }
    if (status === 409 || status === 422) {
      return new FatalError(
        'TOPIC_INCOMPATIBLE',
        `schema registry rejected ${doing} (HTTP ${status}): ${message}`,
        { cause: error },
      );
    }
    return new RegistryUnavailableError(`schema registry unavailable while ${doing}: ${message}`, {
      cause: error,
    });
  }
}
