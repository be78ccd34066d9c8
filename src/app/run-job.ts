/**
 * Runs one exactly-once job the way `eos-rollup run` runs the rollup: configuration from the environment (every
 * variable of the README, checked before the first network call), the stage wired on Kafka, the journal and the
 * job's processor, the watchdog and the operations endpoint, and the signals. SIGTERM or SIGINT stops it cleanly
 * within SHUTDOWN_TIMEOUT_MS; a second signal, or that timeout, exits after taking back the journaled processing
 * attempts (bounded): an exit must not count as a crash of the record at hand.
 */
import pino, { type Logger } from 'pino';
import { prettyOn } from '../cli/command-logger.js';
import { EXIT, exitProcess } from '../cli/exit.js';
import {
  configSecrets,
  loadConfig,
  misspelledVariables,
  redactConfig,
  type Config,
} from '../config/config.js';
import { readPemFile } from '../config/pem-file.js';
import { checkStateDir } from '../config/state-dir.js';
import { bindProcessor, type ProcessorSupplier } from '../engine/processor.js';
import { parseFaultSpecs } from '../engine/faults.js';
import type { StoreWrites } from '../engine/state-store.js';
import { ConfigError } from '../errors/errors.js';
import { errorMessage } from '../errors/message.js';
import { tlsOptions } from '../kafka/client/client.js';
import { attachLogSubscriber } from '../observability/log-subscriber.js';
import { createLogger } from '../observability/logger.js';
import { startOperations } from './operations.js';
import {
  configForThread,
  currentStreamThread,
  onForwardedSignal,
  runStreamThreads,
} from './stream-threads.js';
import { wireStage, type JobServices } from './wire-stage.js';

export type { JobServices };

export interface JobDefinition<In, Out, W extends StoreWrites> {
  /** Names the job in its start-up log line. */
  name: string;
  version: string;
  /**
   * Variables this job sets unless the environment does (its topics, say): every other setting is read from the
   * environment, as for `eos-rollup run`, and a bad one is a configuration error naming it.
   */
  defaults?: Readonly<Record<string, string>>;
  /** Built once per process, after the topics are prepared: serdes, store and processor per partition task. */
  processor(services: JobServices): Promise<ProcessorSupplier<In, Out, W>> | ProcessorSupplier<In, Out, W>;
  /** True: the stage follows INVENTORY_TOPIC (`services.inventory()`) and is ready only once caught up. */
  readsInventory?: boolean;
}

/**
 * What loadConfig leaves for later because it only records it: the PEM files named by the TLS variables and the
 * test-only fault spec. Checked here, before the first network call, so every bad setting fails the start at once
 * with its variable named, never after a broker round trip.
 */
function preflight(config: Config): void {
  const problems: string[] = [];
  const check = (step: () => unknown) => {
    try {
      step();
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else problems.push(errorMessage(error));
    }
  };
  check(() => tlsOptions(config.kafka));
  if (config.registry.caFile !== undefined) {
    const caFile = config.registry.caFile;
    check(() => readPemFile('SCHEMA_REGISTRY_CA_FILE', caFile));
  }
  check(() => parseFaultSpecs(config.faultSpec));
  const stateDir = config.stateDir;
  if (stateDir !== undefined) {
    check(() => {
      checkStateDir(stateDir);
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** How long a process may take to end by itself after a clean stop. */
const LINGER_AFTER_STOP_MS = 3000;

/** Resolves with the exit code once the job stopped cleanly; rejects when it failed (a fatal error). */
export async function runJob<In, Out, W extends StoreWrites>(
  job: JobDefinition<In, Out, W>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  const withDefaults = { ...job.defaults, ...env };
  const loaded = loadConfig(withDefaults, { requireAppId: true });
  const thread = currentStreamThread();
  if (thread === undefined) preflight(loaded);
  const pretty = thread?.prettyLogs ?? prettyOn(loaded.logFormat, process.stdout);
  const logger = createLogger(
    {
      level: loaded.logLevel,
      pretty,
      base: thread === undefined ? { app: loaded.appId } : { app: loaded.appId, thread: thread.number },
      secrets: configSecrets(loaded),
    },
    // pino buffers and flushes at exit only in the main thread: a stream thread's last lines (its clean stop,
    // its fatal error) would be lost when it exits. Written synchronously, one line per write.
    thread === undefined ? undefined : pino.destination({ fd: 1, sync: true }),
  );
  const { version } = job;
  // The main thread says once what it starts with; a stream thread only that it started.
  if (thread === undefined) {
    logger.info({ version, config: redactConfig(loaded) }, `starting ${job.name}`);
    for (const warning of misspelledVariables(withDefaults)) logger.warn(warning);
    if (loaded.streamThreads > 1) return runStreamThreads(loaded, env, logger, pretty);
  }
  const config = thread === undefined ? loaded : configForThread(loaded, thread);
  const stage = wireStage({
    config,
    logger,
    version,
    job: {
      readsInventory: job.readsInventory ?? false,
      processor: async (services) => bindProcessor(await job.processor(services)),
    },
  });
  attachLogSubscriber(stage.events, logger);
  if (thread !== undefined) {
    logger.info(
      { version, instanceId: stage.instanceId },
      `starting ${job.name}, stream thread ${thread.number} of ${thread.of}`,
    );
  }
  const operations = await startOperations(config, stage, logger, version, thread);

  let signals = 0;
  let shutdownTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      void stage.releaseAttempts().finally(() => exitProcess(EXIT.interrupted));
      return;
    }
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stopping');
    shutdownTimer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'clean stop took too long: exiting');
      void stage.releaseAttempts().finally(() => exitProcess(EXIT.failure));
    }, config.shutdownTimeoutMs);
    shutdownTimer.unref();
    void stage.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A worker thread gets no signals of its own: the main thread forwards them.
  if (thread !== undefined) onForwardedSignal(onSignal);
  process.on('unhandledRejection', (reason) => {
    logUnhandledRejection(logger, reason);
  });

  try {
    try {
      await stage.start();
    } catch (error) {
      await stage.stop().catch(() => undefined);
      throw error;
    }
    await stage.done;
  } finally {
    await operations.close();
  }
  clearTimeout(shutdownTimer);
  logger.info('stopped cleanly');
  exitIfLingering(logger);
  return EXIT.ok;
}

/**
 * Our own promises are all awaited or caught (ESLint no-floating-promises), so one rejected with nobody
 * listening comes from a client library's timer: kafkajs restarts a crashed consumer from a `setTimeout` and lets
 * that restart's rejection go. Node's default would end the process with a stack trace outside the log and
 * without taking the journaled attempts back. The job carries on instead, and says so: the components such a
 * rejection can leave stopped watch themselves (the input consumer is restarted by the stage and watched by the
 * watchdog, the inventory follower restarts its consumer).
 */
function logUnhandledRejection(logger: Logger, reason: unknown): void {
  logger.error({ err: reason }, 'a library left a promise rejection unhandled; carrying on');
}

/**
 * Once the job stopped cleanly nothing of it is left to wait for, yet a client library's stray timer or socket
 * can keep Node's event loop alive. Say what lingers, then exit with the clean stop's code.
 */
function exitIfLingering(logger: Logger): void {
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'still running after a clean stop: exiting');
    exitProcess(EXIT.ok);
  }, LINGER_AFTER_STOP_MS).unref();
}
