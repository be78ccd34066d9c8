/**
 * Starts and stops the live load (bench/live-load.ts), a child process of its own: see there for what it sends
 * and why it does not run in the harness.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from './children.js';
import type { BenchContext } from './peers.js';

/** Where the load runs from (the repository's `dist`) and what it writes to. */
export type LiveLoadTarget = Pick<BenchContext, 'root' | 'brokers' | 'registryUrl'>;

export interface LiveLoadOptions {
  topic: string;
  ratePerSecond: number;
  hosts: number;
  partitions: number;
  logFile: string;
}

const READY_TIMEOUT_MS = 30_000;

export class LiveLoad {
  private sent = 0;
  private ready = false;
  private readonly child: Child;

  private constructor(
    target: LiveLoadTarget,
    private readonly options: LiveLoadOptions,
  ) {
    this.child = Child.start(
      'live load',
      process.execPath,
      [join(target.root, 'dist', 'bench', 'live-load.js')],
      {
        logFile: options.logFile,
        env: {
          ...process.env,
          KAFKA_BROKERS: target.brokers,
          SCHEMA_REGISTRY_URL: target.registryUrl,
          LOAD_TOPIC: options.topic,
          LOAD_RATE: String(options.ratePerSecond),
          LOAD_HOSTS: String(options.hosts),
          LOAD_PARTITIONS: String(options.partitions),
        },
        onLine: (line) => {
          this.heard(line);
        },
      },
    );
  }

  /** Starts the load; resolves once it can send. */
  static async start(target: LiveLoadTarget, options: LiveLoadOptions): Promise<LiveLoad> {
    const load = new LiveLoad(target, options);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!load.ready) {
      if (!load.child.isRunning || Date.now() > deadline) {
        await load.child.stop('SIGKILL');
        throw new Error(`the live load did not start; see ${options.logFile}`);
      }
      await sleep(20);
    }
    return load;
  }

  /** Records sent, as of the load's last report (every second, and once more when it stops). */
  get recordsSent(): number {
    return this.sent;
  }

  /** Stops the load; fails with the log file's name if it failed (a send the producer gave up on) at any time. */
  async stop(): Promise<void> {
    const exit = await this.child.stop('SIGTERM');
    await this.child.logClosed;
    if (exit.code !== 0) {
      throw new Error(
        `the live load failed (${exit.signal ?? `exit ${String(exit.code)}`}); see ${this.options.logFile}`,
      );
    }
  }

  private heard(line: string): void {
    if (line === 'ready') this.ready = true;
    const sent = /^sent (\d+)$/.exec(line);
    if (sent?.[1] !== undefined) this.sent = Number(sent[1]);
  }
}

/** The load's log beside the log of the run it feeds. */
export function loadLogFile(runLogFile: string): string {
  return `${runLogFile.replace(/\.log$/, '')}-load.log`;
}
