/**
 * The schema registry, seen from the stage: lookups are asynchronous and may fail in a retriable way (outage,
 * 5xx, network), while a 404 is a fact about the data (the id does not exist) and never changes on retry.
 */
import { Agent } from 'node:https';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import createRegistryApi, {
  type SchemaRegistryAPIClient,
} from '@kafkajs/confluent-schema-registry/dist/api/index.js';
import type { Schema, Type } from 'avsc';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';
import { readPemFile } from '../config/pem-file.js';
import { FatalError, RegistryUnavailableError, StageError } from '../errors/errors.js';
import { isTlsVerificationMessage } from '../errors/tls.js';
import { httpStatus, registerSubjectSchema, type SubjectApi } from './subject-registration.js';
import { errorMessage } from '../errors/message.js';

export interface RegistrySettings {
  url: string;
  /** HTTP basic auth, sent with every request. */
  auth?: { username: string; password: string } | undefined;
  /** PEM file of the CA that signed an https registry's certificate; the system CAs when undefined. */
  caFile?: string | undefined;
  /** How long one HTTP request may go unanswered; REGISTRY_REQUEST_TIMEOUT_MS when undefined. */
  requestTimeoutMs?: number;
}

/**
 * The library sets no timeout, so a registry (or an ingress in front of it) that accepts a connection and never
 * answers would hang a lookup, and with it a task's start, forever. Long enough for a registry under load; a
 * timeout is an outage like any other: retried with back-off, never a dead letter.
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

export type WriterSchemaLookup = { kind: 'found'; type: Type } | { kind: 'not-found' };

/** What the registry answers with a JSON body; mappersmith's `data()` parses it. */
interface ResponseBody {
  data(): { id?: number; compatibilityLevel?: string };
}

/** What mappersmith's retry middleware shows of a failed attempt. */
interface RetriedResponse {
  status(): number;
  error(): Error | null;
}

/**
 * mappersmith reports a request that never got an answer (refused, reset, timed out) as HTTP 400 whose body is
 * Node's message, so the error reads "Error, status 400: <message>"; a registry's own 400 carries a JSON message.
 */
function isTransportFailure(status: number | undefined, message: string): boolean {
  return status === 400 && message.includes('Error, status 400: ');
}

function isRetriableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** 404 is an answer ("no such thing"), returned as undefined; every other failure is thrown. */
async function unlessNotFound<T>(request: Promise<ResponseBody>, read: (body: ResponseBody) => T) {
  try {
    return read(await request);
  } catch (error) {
    if (httpStatus(error) === 404) return undefined;
    throw error;
  }
}

function subjectApi(api: SchemaRegistryAPIClient): SubjectApi {
  const requireId = (body: ResponseBody): number => {
    const id = body.data().id;
    if (typeof id !== 'number') throw new Error('the registry answered without a schema id');
    return id;
  };
  return {
    compatibility: (subject) =>
      unlessNotFound(api.Subject.config({ subject }) as Promise<ResponseBody>, (body) =>
        body.data().compatibilityLevel?.toUpperCase(),
      ),
    setCompatibility: async (subject, compatibility) => {
      await api.Subject.updateConfig({ subject, body: { compatibility } });
    },
    register: async (subject, schema) => requireId(await api.Subject.register({ subject, body: { schema } })),
    lookup: (subject, schema) =>
      unlessNotFound(
        api.Subject.registered({ subject, body: { schema } }) as Promise<ResponseBody>,
        requireId,
      ),
  };
}

export class RegistryClient {
  private readonly registry: SchemaRegistry;
  private readonly subjects: SubjectApi;

  constructor(settings: RegistrySettings) {
    // config.ts accepts a CA file only with an https URL, so the agent always matches the URL's protocol.
    const agent = settings.caFile
      ? new Agent({ ca: readPemFile('SCHEMA_REGISTRY_CA_FILE', settings.caFile) })
      : undefined;
    const client = {
      host: settings.url,
      clientId: 'eos-rollup',
      ...(settings.auth ? { auth: settings.auth } : {}),
      ...(agent ? { agent } : {}),
      // Retries stay short: the engine owns back-off and the circuit breaker, outside any open transaction.
      // Writes too (mappersmith retries only GETs by default): registering a schema and setting a subject's
      // compatibility are idempotent, and Apicurio closes about one connection in a thousand unanswered. A timed
      // out request too: mappersmith retries only 5xx answers and network errors with a code, and its timeout has
      // none, so a request Apicurio left unanswered once failed a start that its second try would have passed.
      retry: {
        retries: 1,
        initialRetryTimeInSecs: 0.1,
        maxRetryTimeInSecs: 1,
        enableRetry: () => true,
        validateRetry: (response: RetriedResponse) =>
          response.status() >= 500 || response.error()?.name === 'TimeoutError',
      },
      middlewares: [TimeoutMiddleware(settings.requestTimeoutMs ?? REGISTRY_REQUEST_TIMEOUT_MS)],
    };
    this.registry = new SchemaRegistry(client);
    // The library's own register() reads, writes and sets the subject's compatibility in an order that races
    // between replicas and cannot be told to re-read on a conflict; its HTTP client (auth, TLS, retries) can.
    this.subjects = subjectApi(createRegistryApi(client));
  }

  async writerSchema(schemaId: number): Promise<WriterSchemaLookup> {
    try {
      return { kind: 'found', type: (await this.registry.getSchema(schemaId)) as unknown as Type };
    } catch (error) {
      if (httpStatus(error) === 404) return { kind: 'not-found' };
      throw this.translate(error, `looking up schema id ${schemaId}`);
    }
  }

  /**
   * Registers (or finds) a schema under `<topic>-value` (topic name strategy), with BACKWARD compatibility, and
   * returns its id; safe to run from several replicas at once.
   */
  async register(topic: string, schema: Schema): Promise<number> {
    const subject = `${topic}-value`;
    try {
      return await registerSubjectSchema(this.subjects, subject, JSON.stringify(schema));
    } catch (error) {
      throw this.translate(error, `registering a schema under ${subject}`);
    }
  }

  /**
   * The id of a schema registered under `<topic>-value` by someone else, for registries where applications may
   * not register (SCHEMA_REGISTRY_AUTO_REGISTER=false); nothing is written.
   */
  async registered(topic: string, schema: Schema): Promise<number> {
    const subject = `${topic}-value`;
    let id: number | undefined;
    try {
      id = await this.subjects.lookup(subject, JSON.stringify(schema));
    } catch (error) {
      throw this.translate(error, `looking up the schema registered under ${subject}`);
    }
    if (id === undefined) {
      throw new FatalError(
        'TOPIC_INCOMPATIBLE',
        `the output schema is not registered under ${subject}, and SCHEMA_REGISTRY_AUTO_REGISTER=false forbids registering it: ` +
          'register schemas/metric-rollup.avsc there, or set SCHEMA_REGISTRY_AUTO_REGISTER=true',
      );
    }
    return id;
  }

  private translate(error: unknown, doing: string): Error {
    if (error instanceof StageError) return error;
    const status = httpStatus(error);
    const message = errorMessage(error);
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
    // Only a registry that could not answer is unavailable; an answer that says no is a rejection, which no retry
    // changes (reporting it as an outage would hide a conflict or a misconfiguration behind back-off).
    if (status === undefined || isTransportFailure(status, message) || isRetriableStatus(status)) {
      return new RegistryUnavailableError(`schema registry unavailable while ${doing}: ${message}`, {
        cause: error,
      });
    }
    const hint = status === 404 || status === 405 ? ' (check the path in SCHEMA_REGISTRY_URL)' : '';
    return new FatalError(
      'TOPIC_INCOMPATIBLE',
      `schema registry rejected ${doing} (HTTP ${status}): ${message}${hint}`,
      { cause: error },
    );
  }
}
