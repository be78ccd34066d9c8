/**
 * STREAM_THREADS > 1: one process runs that many stages, each in its own worker thread and each its own member of
 * the consumer group with its share of the input's partitions, as that many replicas would. A stage is one event
 * loop, one V8 heap and one collector, so it keeps one core busy; a second thread is how the process uses a
 * second core (design §27 has the figures).
 *
 * The main thread runs no stage. It checks the configuration, starts the threads (each runs this process's entry
 * script again, which reaches runJob and finds its thread number in `workerData`), serves the operations endpoint
 * for all of them, forwards SIGTERM and SIGINT, and exits once every thread has: with the code of the first thread
 * that failed, after asking the others to stop cleanly, as one process's fatal error ends all of its tasks.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import {
  AggregatorRegistry,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { CommandError, EXIT } from '../cli/exit.js';
import { instanceIdOf, type Config } from '../config/config.js';
import { errorMessage } from '../errors/message.js';
import {
  OperationsServer,
  type Liveness,
  type MetricsSource,
  type ReadinessReport,
} from '../observability/http-server.js';

const MARK = 'eosRollupStreamThread';
/** A thread that has not answered a status request by then is reported as not answering. */
const STATUS_TIMEOUT_MS = 2000;
/** After a signal, how much longer than SHUTDOWN_TIMEOUT_MS the threads get before they are terminated. */
const STOP_GRACE_MS = 5000;

export interface StreamThread {
  /** 1-based. */
  readonly number: number;
  readonly of: number;
  /** The main thread's choice for LOG_FORMAT=auto: a thread's stdout is no terminal of its own. */
  readonly prettyLogs: boolean;
}

/** This thread's place when it is one of the process's stream threads; undefined in the main thread. */
export function currentStreamThread(): StreamThread | undefined {
  if (isMainThread) return undefined;
  const mark = (workerData as Record<string, unknown> | null)?.[MARK] as StreamThread | undefined;
  return mark === undefined ? undefined : { number: mark.number, of: mark.of, prettyLogs: mark.prettyLogs };
}

/**
 * A thread's own identity: its member id and static group instance id are the process's with `-<n>`, so each
 * thread is a member of its own and a restarted process's thread n takes back what thread n held.
 */
export function configForThread(config: Config, thread: StreamThread): Config {
  const suffix = `-${thread.number}`;
  return {
    ...config,
    instanceId: `${instanceIdOf(config)}${suffix}`,
    groupInstanceId: config.groupInstanceId === undefined ? undefined : `${config.groupInstanceId}${suffix}`,
  };
}

type ToThread = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'status'; id: number };

type LivenessReport = Liveness & Record<string, unknown>;
type Readiness = ReadinessReport & Record<string, unknown>;

interface ThreadStatus {
  kind: 'status';
  id: number;
  liveness: LivenessReport;
  readiness: Readiness;
  metrics: MetricObjectWithValues<MetricValue<string>>[];
}

/** In a stream thread: the signals the main thread forwards. */
export function onForwardedSignal(handler: (signal: NodeJS.Signals) => void): void {
  parentPort?.on('message', (message: ToThread) => {
    if (message.kind === 'signal') handler(message.signal);
  });
}

/** In a stream thread: answers the main thread's status requests from this thread's stage. */
export function answerStatusRequests(sources: {
  registry: Registry | undefined;
  liveness: () => LivenessReport;
  readiness: () => Readiness;
}): void {
  parentPort?.on('message', (message: ToThread) => {
    if (message.kind !== 'status') return;
    void (async () => {
      const status: ThreadStatus = {
        kind: 'status',
        id: message.id,
        liveness: sources.liveness(),
        readiness: sources.readiness(),
        metrics: (await sources.registry?.getMetricsAsJSON()) ?? [],
      };
      parentPort?.postMessage(status);
    })();
  });
}

/** The main thread's handle on one stream thread. */
class ThreadHandle {
  readonly exited: Promise<number>;
  private nextId = 0;
  private readonly waiting = new Map<number, (status: ThreadStatus) => void>();
  private running = true;

  constructor(
    readonly number: number,
    private readonly worker: Worker,
    logger: Logger,
  ) {
    worker.on('message', (message: ThreadStatus) => {
      this.waiting.get(message.id)?.(message);
      this.waiting.delete(message.id);
    });
    worker.on('error', (error) => {
      logger.error({ thread: number, err: error }, `stream thread ${number} failed: ${errorMessage(error)}`);
    });
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.running = false;
        resolve(code);
      });
    });
  }

  get isRunning(): boolean {
    return this.running;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.worker.postMessage({ kind: 'signal', signal } satisfies ToThread);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  /** Its status, or undefined when it is gone or did not answer within STATUS_TIMEOUT_MS. */
  async status(): Promise<ThreadStatus | undefined> {
    if (!this.running) return undefined;
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, STATUS_TIMEOUT_MS);
      this.waiting.set(id, (status) => {
        clearTimeout(timer);
        resolve(status);
      });
      this.worker.postMessage({ kind: 'status', id } satisfies ToThread);
    });
  }
}

/**
 * The main thread of a STREAM_THREADS process: starts the threads, serves their operations endpoint, forwards
 * signals and resolves with the process's exit code once every thread has ended.
 */
export async function runStreamThreads(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  prettyLogs: boolean,
): Promise<number> {
  const entry = process.argv[1];
  if (entry === undefined)
    throw new CommandError('STREAM_THREADS needs an entry script to run in each thread');
  const threads: ThreadHandle[] = [];
  for (let number = 1; number <= config.streamThreads; number++) {
    const worker = new Worker(entry, {
      argv: process.argv.slice(2),
      env: { ...env },
      workerData: { [MARK]: { number, of: config.streamThreads, prettyLogs } satisfies StreamThread },
    });
    threads.push(new ThreadHandle(number, worker, logger));
  }
  logger.info({ streamThreads: threads.length }, `started ${threads.length} stream threads`);

  const server = config.metricsPort > 0 ? await serveThreads(config.metricsPort, threads, logger) : undefined;

  let stopping = false;
  let stopTimer: NodeJS.Timeout | undefined;
  const stopAll = (signal: NodeJS.Signals) => {
    for (const thread of threads) thread.signal(signal);
    if (stopping) return;
    stopping = true;
    stopTimer = setTimeout(() => {
      logger.error(
        { timeoutMs: config.shutdownTimeoutMs },
        'stream threads took too long to stop: ending them',
      );
      void Promise.all(threads.map((thread) => thread.terminate()));
    }, config.shutdownTimeoutMs + STOP_GRACE_MS);
    stopTimer.unref();
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);

  let exitCode: number = EXIT.ok;
  await Promise.all(
    threads.map(async (thread) => {
      const code = await thread.exited;
      if (code === EXIT.ok) {
        logger.info({ thread: thread.number }, `stream thread ${thread.number} stopped`);
        return;
      }
      logger.error(
        { thread: thread.number, code },
        `stream thread ${thread.number} ended with exit code ${code}`,
      );
      if (exitCode === EXIT.ok) exitCode = code;
      if (!stopping && threads.some((other) => other.isRunning)) {
        logger.error('stopping the other stream threads: the process ends with the failed one');
      }
      stopAll('SIGTERM');
    }),
  );
  clearTimeout(stopTimer);
  process.off('SIGTERM', stopAll);
  process.off('SIGINT', stopAll);
  await server?.close();
  return exitCode;
}

/**
 * One endpoint for every thread: /metrics merges their registries (each series labelled with its `thread`) and
 * adds the process's own default metrics once; the process is alive while every thread is, ready when every
 * thread is, and each reason names its thread.
 */
async function serveThreads(
  port: number,
  threads: readonly ThreadHandle[],
  logger: Logger,
): Promise<OperationsServer> {
  const processRegistry = new Registry();
  collectDefaultMetrics({ register: processRegistry });
  const statuses = async () =>
    Promise.all(threads.map(async (thread) => ({ thread: thread.number, status: await thread.status() })));
  const registry: MetricsSource = {
    contentType: processRegistry.contentType,
    metrics: async () => {
      const own = await processRegistry.getMetricsAsJSON();
      const answered = (await statuses()).flatMap(({ status }) => (status ? [status.metrics] : []));
      return AggregatorRegistry.aggregate([own, ...answered]).metrics();
    },
  };
  const merged = async <R extends { reasons: string[] }>(
    pick: (status: ThreadStatus) => R,
    ok: (report: R) => boolean,
  ) => {
    const reports = (await statuses()).map(({ thread, status }) => ({
      thread,
      report: status === undefined ? undefined : pick(status),
    }));
    return {
      ok: reports.every(({ report }) => report !== undefined && ok(report)),
      reasons: reports.flatMap(({ thread, report }) =>
        report === undefined
          ? [`stream thread ${thread} is not running or did not answer`]
          : report.reasons.map((reason) => `stream thread ${thread}: ${reason}`),
      ),
      threads: reports.map(({ thread, report }) => ({ thread, ...report })),
    };
  };
  try {
    const server = await OperationsServer.start(port, {
      registry,
      liveness: async () => {
        const { ok, ...rest } = await merged(
          (status) => status.liveness,
          (report) => report.alive,
        );
        return { alive: ok, ...rest };
      },
      readiness: async () => {
        const { ok, ...rest } = await merged(
          (status) => status.readiness,
          (report) => report.ready,
        );
        return { ready: ok, ...rest };
      },
    });
    logger.info(
      { port: server.port, paths: ['/metrics', '/healthz', '/readyz'] },
      'operations endpoint listening',
    );
    return server;
  } catch (error) {
    for (const thread of threads) thread.signal('SIGTERM');
    throw new CommandError(`METRICS_PORT=${port}: cannot serve /metrics: ${errorMessage(error)}`);
  }
}
