/**
 * Around a running stage: the watchdog (always), and with METRICS_PORT > 0 the lag lookups and the /metrics,
 * /healthz and /readyz endpoint. Started before the stage so that probes see it starting.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Stage } from '../engine/stage.js';
import { CommandError } from '../cli/exit.js';
import { errorMessage } from '../errors/message.js';
import { KafkaLagReader } from '../kafka/operator/lag-reader.js';
import { createKafka } from '../kafka/client/client.js';
import { OperationsServer } from '../observability/http-server.js';
import { LagMonitor } from '../observability/lag-monitor.js';
import { attachMetrics } from '../observability/metrics.js';
import { evaluateReadiness } from '../observability/readiness.js';
import { answerStatusRequests, type StreamThread } from './stream-threads.js';
import {
  Watchdog,
  describeFinding,
  watchdogOptions,
  type WatchdogFinding,
} from '../observability/watchdog.js';

/** A scrape within this long of the previous one reuses its lag lookup. */
const LAG_CACHE_MS = 1000;
/** A lag lookup slower than this leaves the scrape without lag series (Prometheus's default timeout is 10 s). */
const LAG_TIMEOUT_MS = 3000;
const WATCHDOG_CHECK_MS = 1000;

export interface Operations {
  close(): Promise<void>;
}

/**
 * The watchdog, and with METRICS_PORT > 0 the lag monitor, the metrics and the HTTP endpoint. Without the
 * endpoint nothing looks up lag, so the watchdog then checks open transactions only. In a stream thread the main
 * thread serves the endpoint: this thread's metrics (labelled with its number) and health go to it on request.
 */
export async function startOperations(
  config: Config,
  stage: Stage,
  logger: Logger,
  version: string,
  thread?: StreamThread,
): Promise<Operations> {
  const log = logger.child({ component: 'watchdog' });
  const watchdog = new Watchdog(
    watchdogOptions(config.commit.intervalMs, config.transactionTimeoutMs),
    Date.now,
    {
      raised: (finding) => {
        log.warn(findingFields(finding), `watchdog: ${describeFinding(finding)}`);
      },
      cleared: (finding) => {
        log.info(
          findingFields(finding),
          `watchdog cleared: ${finding.kind} on partition ${finding.partition}`,
        );
      },
    },
  );
  const unsubscribe = watchdog.subscribe(stage.events);

  const lagMonitor =
    config.metricsPort > 0
      ? new LagMonitor(
          new KafkaLagReader(
            createKafka(config.kafka, `${config.appId}-${stage.instanceId}-lag`, logger),
            config.appId,
            config.topics.input,
          ),
          () => stage.assignedPartitions,
          {
            maxAgeMs: LAG_CACHE_MS,
            timeoutMs: LAG_TIMEOUT_MS,
            now: Date.now,
            onError: (error) => {
              logger.warn({ err: error }, 'lag lookup failed');
            },
          },
        )
      : undefined;

  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      try {
        // A lag lookup only when some partition has been quiet long enough to be a stall candidate.
        const snapshot =
          lagMonitor && watchdog.stallCandidates().length > 0 ? await lagMonitor.snapshot() : undefined;
        watchdog.check(
          snapshot && {
            atMs: snapshot.atMs,
            records: new Map(snapshot.partitions.map((p) => [p.partition, p.lagRecords])),
          },
        );
      } finally {
        checking = false;
      }
    })();
  }, WATCHDOG_CHECK_MS);
  timer.unref();
  const stopWatching = async () => {
    clearInterval(timer);
    unsubscribe();
    await lagMonitor?.close();
  };

  const readiness = () => {
    const findings = watchdog.findings;
    return {
      ...evaluateReadiness(stage.readinessFacts(), findings.map(describeFinding)),
      watchdog: findings,
    };
  };

  let server: OperationsServer | undefined;
  if (config.metricsPort > 0) {
    const registry = new Registry();
    if (thread !== undefined) registry.setDefaultLabels({ thread: String(thread.number) });
    attachMetrics(
      stage.events,
      registry,
      {
        readiness,
        lag: () => lagMonitor?.snapshot() ?? Promise.resolve(undefined),
        lagLookupFailures: () => lagMonitor?.failedLookups ?? 0,
        watchdog,
        identity: {
          group: config.appId,
          topic: config.topics.input,
          memberHost: hostname(),
          consumerId: stage.instanceId,
          clientId: `${config.appId}-${stage.instanceId}`,
        },
        now: Date.now,
      },
      {
        // The process's own (CPU, heap, event loop of the main thread) are the main thread's to report, once.
        defaultMetrics: thread === undefined,
        build: {
          version,
          nodeVersion: process.version,
          processingGuarantee: config.processingGuarantee,
        },
      },
    );
    const startedAtMs = Date.now();
    const liveness = () => {
      const state = stage.lifecycle;
      const alive = state !== 'failed';
      return {
        alive,
        reasons: alive ? [] : ['the stage failed and is exiting'],
        stage: state,
        uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
      };
    };
    if (thread !== undefined) {
      answerStatusRequests({ registry, liveness, readiness });
      return { close: stopWatching };
    }
    try {
      server = await OperationsServer.start(config.metricsPort, { registry, liveness, readiness });
    } catch (error) {
      await stopWatching();
      throw new CommandError(
        `METRICS_PORT=${config.metricsPort}: cannot serve /metrics: ${errorMessage(error)}`,
      );
    }
    logger.info(
      { port: server.port, paths: ['/metrics', '/healthz', '/readyz'] },
      'operations endpoint listening',
    );
  }

  return {
    close: async () => {
      await server?.close();
      await stopWatching();
    },
  };
}

function findingFields(finding: WatchdogFinding): Record<string, unknown> {
  return { watchdog: finding.kind, ...finding };
}
