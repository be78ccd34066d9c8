/**
 * The schema registry, seen from the stage: lookups are asynchronous and may fail in a retriable way (outage,
 * 5xx, network), while a 404 is a fact about the data (the id does not exist) and never changes on retry.
 */
import { Agent } from 'node:https';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Schema, Type } from 'avsc';
import { readPemFile } from '../config/pem-file.js';
import { FatalError, RegistryUnavailableError } from '../errors/errors.js';
import { isTlsVerificationMessage } from '../errors/tls.js';

export interface RegistrySettings {
  url: string;
  /** HTTP basic auth, sent with every request. */
  auth?: { username: string; password: string } | undefined;
  /** PEM file of the CA that signed an https registry's certificate; the system CAs when undefined. */
  caFile?: string | undefined;
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
    // config.ts accepts a CA file only with an https URL, so the agent always matches the URL's protocol.
    const agent = settings.caFile
      ? new Agent({ ca: readPemFile('SCHEMA_REGISTRY_CA_FILE', settings.caFile) })
      : undefined;
    this.registry = new SchemaRegistry({
      host: settings.url,
      clientId: 'eos-rollup',
      ...(settings.auth ? { auth: settings.auth } : {}),
      ...(agent ? { agent } : {}),
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
    // mappersmith turns a failed connection into HTTP 400 and keeps only Node's message.
    if (status === 400 && isTlsVerificationMessage(message)) {
      return new FatalError(
        'TLS_CERTIFICATE_REJECTED',
        `schema registry certificate rejected while ${doing}: ${message} ` +
          "(check SCHEMA_REGISTRY_CA_FILE, the CA that signed the registry's certificate, and the host in SCHEMA_REGISTRY_URL)",
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
