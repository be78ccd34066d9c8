/** The one place kafkajs clients are built: connection, security and logging settings in one shape. */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel as KafkaLogLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/config.js';

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** kafkajs logs through pino; its INFO chatter (joins, fetches) goes to debug, its errors stay warnings we act on. */
function pinoLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const target = PINO_LEVEL[level] ?? 'debug';
      const demoted = target === 'info' ? 'debug' : target === 'error' ? 'warn' : target;
      logger[demoted]({ kafkajs: extra }, message);
    };
}

function saslOptions(config: KafkaConfig): SASLOptions | undefined {
  const sasl = config.sasl;
  if (!sasl) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

export function createKafka(config: KafkaConfig, clientId: string, logger: Logger): Kafka {
  const ssl = config.ssl
    ? {
        rejectUnauthorized: config.ssl.rejectUnauthorized,
        ...(config.ssl.caFile ? { ca: [readFileSync(config.ssl.caFile, 'utf8')] } : {}),
        ...(config.ssl.certFile ? { cert: readFileSync(config.ssl.certFile, 'utf8') } : {}),
        ...(config.ssl.keyFile ? { key: readFileSync(config.ssl.keyFile, 'utf8') } : {}),
      }
    : undefined;
  const sasl = saslOptions(config);
  return new Kafka({
    clientId,
    brokers: [...config.brokers],
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    logLevel: KafkaLogLevel.WARN,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 3000 },
  });
}
