/**
 * `eos-rollup run`: the stage. SIGTERM or SIGINT stops it cleanly (stop fetching, let open transactions finish
 * or abort, close clients) within SHUTDOWN_TIMEOUT_MS; a second signal exits at once.
 */
import pino from 'pino';
import { loadConfig, redactConfig } from '../../config/config.js';
import { Stage } from '../../engine/stage.js';
import { attachLogSubscriber } from '../../observability/log-subscriber.js';
import { EXIT } from '../exit.js';
import { packageVersion } from '../version.js';

export async function runCommand(): Promise<number> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.logLevel, base: { app: config.appId } });
  const version = packageVersion();
  const stage = new Stage({ config, logger, version });
  attachLogSubscriber(stage.events, logger);
  logger.info({ version, config: redactConfig(config) }, 'starting eos-rollup');

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.interrupted);
    }
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stopping');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'clean stop took too long: exiting');
      process.exit(EXIT.failure);
    }, config.shutdownTimeoutMs);
    timer.unref();
    void stage.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await stage.start();
  } catch (error) {
    await stage.stop().catch(() => undefined);
    throw error;
  }
  await stage.done;
  logger.info('stopped cleanly');
  return EXIT.ok;
}
