/**
 * The logger of the operator commands (everything but `run`): JSON lines on stderr, so stdout stays the
 * command's output, with the same secret redaction as the stage's.
 */
import pino, { type Logger } from 'pino';
import { configSecrets, type Config, type LogFormat, type LogLevel } from '../config/config.js';
import { createLogger } from '../observability/logger.js';

/** `quietInfo`: commands whose output is the report itself log from warn up unless asked for more. */
export function commandLogger(config: Config, options: { quietInfo?: boolean } = {}): Logger {
  const level: LogLevel = options.quietInfo && config.logLevel === 'info' ? 'warn' : config.logLevel;
  return createLogger(
    { level, secrets: configSecrets(config), pretty: prettyOn(config.logFormat, process.stderr) },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** LOG_FORMAT=auto is pretty exactly when a person is reading the stream. */
export function prettyOn(format: LogFormat, stream: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && stream.isTTY === true);
}
