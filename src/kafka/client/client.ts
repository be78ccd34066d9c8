/** The one place kafkajs clients are built: connection, security and logging settings in one shape. */
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../../config/config.js';
import { readPemFile } from '../../config/pem-file.js';
import { saslMechanism } from './sasl.js';

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/**
 * Messages kafkajs logs loudly about situations this code handles itself, so they go to debug:
 * - every error response ("Response AddPartitionsToTxn…"), which the caller receives and acts on anyway;
 * - a retry it is about to make ("Failed to send messages: … concurrent operation…" after each commit);
 * - its warning about limited retries on idempotent producers: ours are never reused after an error, and a
 *   bounded retry keeps a broken partition from stalling its task forever.
 */
const EXPECTED_NOISE = [
  /^Response /,
  /^Failed to send messages/,
  /^Limiting retries for the idempotent producer/,
];

/**
 * kafkajs logs through pino; its INFO chatter (joins, fetches) goes to debug, its errors stay warnings we act on.
 * `quiet`: a one-shot command reports its own failure in one line, so kafkajs' retries are debug there.
 */
function pinoLogCreator(logger: Logger, quietRetries: boolean) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const target = PINO_LEVEL[level] ?? 'debug';
      const quiet =
        quietRetries || target === 'info' || EXPECTED_NOISE.some((pattern) => pattern.test(message));
      logger[quiet ? 'debug' : target === 'error' ? 'warn' : target]({ kafkajs: extra }, message);
    };
}

/** TLS options, the PEM files read now: a missing file is the variable's ConfigError, not a connection error. */
export function tlsOptions(config: KafkaConfig): ConnectionOptions | undefined {
  const ssl = config.ssl;
  if (!ssl) return undefined;
  return {
    rejectUnauthorized: ssl.rejectUnauthorized,
    ...(ssl.caFile ? { ca: [readPemFile('KAFKA_SSL_CA_FILE', ssl.caFile)] } : {}),
    ...(ssl.certFile ? { cert: readPemFile('KAFKA_SSL_CERT_FILE', ssl.certFile) } : {}),
    ...(ssl.keyFile ? { key: readPemFile('KAFKA_SSL_KEY_FILE', ssl.keyFile) } : {}),
  };
}

export interface KafkaClientOptions {
  /** One-shot commands: kafkajs' own retry warnings go to debug; the command's one-line failure says it all. */
  quietRetries?: boolean;
}

/**
 * kafkajs's retry for every call that does not bring its own (admin reads, coordinator look-ups): back-offs of
 * 100 ms doubling, none longer than Kafka's own clients wait (`retry.backoff.max.ms`, 1 s). A back-off slept
 * through a broker failover is stall the user sees: with a 3 s cap, the fifth look-up of a dead group
 * coordinator slept 1.5 s, and whatever of that remained when Kafka moved the role was waited out first.
 */
export const CLIENT_RETRY = { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } as const;

export function createKafka(
  config: KafkaConfig,
  clientId: string,
  logger: Logger,
  options: KafkaClientOptions = {},
): Kafka {
  const ssl = tlsOptions(config);
  const sasl = config.sasl ? saslMechanism(config.sasl) : undefined;
  return new Kafka({
    clientId,
    brokers: [...config.brokers],
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    logLevel: KafkaLogLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' }), options.quietRetries ?? false),
    retry: { ...CLIENT_RETRY },
  });
}
