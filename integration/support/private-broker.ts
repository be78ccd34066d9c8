/**
 * A Kafka broker of the test file's own, for scenarios that kill or restart the BROKER (F13, F14), which
 * must never happen to the broker every other test shares, or that put a protocol-aware proxy in front of it to
 * delay or lose single requests (F16, F17: `{ proxy: true }`). `usePrivateBroker()` starts a single-node Kafka under
 * a temporary directory in `before()` (scripts/stack `startBroker`: the shared stack's configuration, marker,
 * readiness check and warm-up) and, in `after()`, kills the file's stage processes, then the broker, and removes
 * the directory, whatever happened.
 *
 * The registry is the shared one (`testEnvironment()`): the stage needs only its URL, and schemas registered there
 * by subject are harmless to other tests (subjects are per topic, and topics are unique per test).
 *
 * Always a local JVM, in every environment branch: also when the run was given KAFKA_BROKERS (an external
 * cluster) or chose testcontainers, these scenarios still start a broker here, since they need one they may kill.
 * The Kafka distribution comes from .stack/dist (assembled by Maven if missing), so a Java 17+ runtime is needed.
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  freePort,
  startBroker,
  type BrokerExit,
  type BrokerHandle,
} from '../../scripts/stack/local-stack.js';
import type { BrokerSecurity } from '../../scripts/stack/broker-security.js';
import { testEnvironment } from './environment.js';
import { release, waitForHeldTransactionFailure, waitUntilHeld } from './fault-hold.js';
import { KafkaProxy } from './kafka-proxy.js';
import { drainThroughClientErrors, type PipelineNames, type StageProcess } from './pipeline.js';
import { FAULT_SETTINGS, assertNoViolations, type AuditOutcome } from './scenario.js';
import { useStageSuite, type StageSuite } from './stage-suite.js';

export interface PrivateBrokerSuite extends StageSuite {
  /** The private broker: kill, restart, stop. */
  readonly broker: BrokerHandle;
  /** The protocol-aware proxy every client connection goes through; only with `{ proxy: true }`. */
  readonly proxy: KafkaProxy;
}

export interface PrivateBrokerOptions {
  /** server.properties entries on top of the shared stack's. */
  extraProperties?: Record<string, string>;
  /**
   * Put a KafkaProxy in front of the broker and advertise the proxy's port, so every client connection after
   * bootstrap (and the suite's bootstrap itself) goes through it: requests can then be delayed or dropped.
   */
  proxy?: boolean;
  /** SASL and TLS listeners beside the PLAINTEXT one the suite's own clients use (`broker.listeners`). */
  security?: BrokerSecurity;
}

export function usePrivateBroker(options: PrivateBrokerOptions = {}): PrivateBrokerSuite {
  let dir: string | undefined;
  let broker: BrokerHandle | undefined;
  let proxy: KafkaProxy | undefined;
  const suite = useStageSuite(
    async () => {
      const shared = await testEnvironment();
      dir = mkdtempSync(join(tmpdir(), 'eos-rollup-broker-'));
      const extraProperties = { ...options.extraProperties };
      let port: number | undefined;
      if (options.proxy) {
        // Listening before the broker starts: its readiness check and warm-up already follow the metadata here.
        port = await freePort();
        proxy = await KafkaProxy.start('127.0.0.1', port);
        extraProperties['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${proxy.port}`;
      }
      broker = await startBroker({ dir, port, extraProperties, security: options.security ?? {} });
      const own = broker;
      return {
        kind: 'local-stack',
        brokers: proxy ? `127.0.0.1:${proxy.port}` : own.brokers,
        registryUrl: shared.registryUrl,
        release: () => own.stop(),
      };
    },
    async () => {
      try {
        if (broker) await broker.kill('SIGKILL');
      } finally {
        await proxy?.close();
        if (dir) {
          keepBrokerLog(dir);
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );
  Object.defineProperty(suite, 'proxy', {
    get: () => {
      if (!proxy)
        throw new Error('no proxy: usePrivateBroker({ proxy: true }), used after its before() hook');
      return proxy;
    },
  });
  return Object.defineProperty(suite, 'broker', {
    get: () => {
      if (!broker) throw new Error('the private broker is used before its before() hook ran');
      return broker;
    },
  }) as PrivateBrokerSuite;
}

/** EOS_ROLLUP_TEST_LOG_DIR keeps the broker's server.log beside the stage logs for a post-mortem. */
function keepBrokerLog(dir: string): void {
  const logDir = process.env.EOS_ROLLUP_TEST_LOG_DIR;
  const serverLog = join(dir, 'server.log');
  if (!logDir || !existsSync(serverLog)) return;
  mkdirSync(logDir, { recursive: true });
  cpSync(serverLog, join(logDir, `${basename(dir)}-server.log`));
}

export interface OutageOptions {
  /**
   * Stage settings on top of FAULT_SETTINGS; EOS_ROLLUP_FAULT must hold a task (a `hold` action): the broker is
   * struck only while the task is held at its point, so the strike always lands where the test says.
   */
  env: Record<string, string>;
  /** SIGKILL: a crash (log recovery at restart); SIGTERM: a clean, controlled shutdown. */
  signal: 'SIGKILL' | 'SIGTERM';
  /** How long, at least, the broker stays down after the signal, before it is started again. */
  downForMs: number;
  drainTimeoutMs?: number;
}

export interface OutageRun {
  stage: StageProcess;
  /** How the broker's JVM ended. */
  brokerExit: BrokerExit;
  /** The partition whose task was held, its transaction open, when the broker was struck. */
  heldPartition: number;
  /** From the hold (the transaction open) to the restarted broker answering. */
  sinceTriggerMs: number;
  /** From the signal to the broker answering again. */
  outageMs: number;
  /** The stage, stopped with SIGTERM once the input was drained. */
  stageExit: { code: number | null; signal: NodeJS.Signals | null };
  /** The stage log from the strike on. */
  logSinceStrike: string;
  /** The stage log from the SIGTERM that stopped it on. */
  logSinceStop: string;
}

/**
 * One stage run through a broker outage, every step waiting for the previous one to be proven: start the stage,
 * wait until a task is held at its fault point (its transaction open), signal the broker and wait for it to exit,
 * release the task, wait until the stage has logged that transaction's failure (the broker is still down, so the
 * failure cannot be won by a quick restart), keep the broker down at least `downForMs` (the stage must not exit
 * meanwhile), start it again on the same ports and data, wait until the stage has drained the input, then stop
 * the stage with SIGTERM.
 */
export async function runThroughBrokerOutage(
  suite: PrivateBrokerSuite,
  names: PipelineNames,
  options: OutageOptions,
): Promise<OutageRun> {
  const stage = suite.start(names, { ...FAULT_SETTINGS, ...options.env });
  const held = await waitUntilHeld(stage);
  const triggeredAt = Date.now();
  const logMark = held.mark;
  const signalledAt = Date.now();
  const brokerExit = await suite.broker.kill(options.signal);
  release(stage);
  await waitForHeldTransactionFailure(stage, held);
  const early = await Promise.race([
    stage.exited.then((exit) => exit),
    sleep(Math.max(0, signalledAt + options.downForMs - Date.now())).then(() => undefined),
  ]);
  if (early)
    throw new Error(
      `stage exited (${JSON.stringify(early)}) while the broker was down:\n${stage.output().slice(logMark).slice(-4000)}`,
    );
  await suite.broker.restart();
  const backAt = Date.now();
  await drainThroughClientErrors(suite.kafka, names, stage, options.drainTimeoutMs ?? 120_000);
  const stopMark = stage.output().length;
  const stageExit = await stage.stop('SIGTERM');
  return {
    stage,
    brokerExit,
    heldPartition: held.partition,
    sinceTriggerMs: backAt - triggeredAt,
    outageMs: backAt - signalledAt,
    stageExit,
    // Read late: 'exit' can come before the last of the child's output has been read.
    get logSinceStrike() {
      return stage.output().slice(logMark);
    },
    get logSinceStop() {
      return stage.output().slice(stopMark);
    },
  };
}

/** One line for the test's diagnostics: what the broker and the stage went through. */
export function summarize(run: OutageRun, abortedRecords?: number): string {
  const count = (msg: RegExp) => logLines(run.logSinceStrike, msg).length;
  return [
    `broker exit ${JSON.stringify(run.brokerExit)}`,
    `outage ${run.outageMs} ms (hold on partition ${run.heldPartition} to broker back ${run.sinceTriggerMs} ms)`,
    `failed transactions ${count(/^transaction failed while/)}`,
    `breaker opened ${count(/^circuit breaker open/)}, probes failed ${count(/^probe failed/)}`,
    `consumer restarts ${count(/^consumer crashed/)}`,
    `stage exit ${JSON.stringify(run.stageExit)}`,
    ...(abortedRecords === undefined ? [] : [`aborted records ${abortedRecords}`]),
  ].join('; ');
}

/** Stage log lines (pino JSON) whose msg matches, for assertions and reports. */
export function logLines(log: string, msg: RegExp): string[] {
  return log.split('\n').filter((line) => {
    const match = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line);
    return match?.[1] !== undefined && msg.test(match[1]);
  });
}

/**
 * What every broker-outage scenario must end with: the stage saw failed transactions after the strike (proof the
 * fault reached it; runThroughBrokerOutage has already waited for the held one's), the auditor found nothing, and
 * the stage stopped cleanly after the drain.
 */
export function assertRodeOutOutage(run: OutageRun, outcome: AuditOutcome): void {
  const failed = logLines(run.logSinceStrike, /^transaction failed while/);
  assert.ok(failed.length > 0, `the stage saw failed transactions:\n${run.logSinceStrike.slice(-3000)}`);
  assertNoViolations(outcome, run.stage.output().slice(-3000));
  assert.equal(
    run.stageExit.code,
    0,
    `a clean stop after the drain; the stage log from SIGTERM on:\n${run.logSinceStop}`,
  );
}
