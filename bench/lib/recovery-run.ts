/**
 * Recovery: the stage (1 s commits) under a live load at half its sustained rate is SIGKILLed and started again
 * at once, as a supervisor would: with static membership under the same INSTANCE_ID (a StatefulSet pod), or as a
 * dynamic member (a new member id). Each phase is timed from the kill:
 * - rejoin: the new process logs `partitions assigned` (a dynamic member waits for the dead member's session to
 *   expire; a static one takes its partitions back at once);
 * - restore: the last assigned task logs `state restored`;
 * - first commit: the group's committed offsets move again (broker, polled every 250 ms);
 * - caught up: the lag is back at or below the highest lag seen in steady state before the kill, for 3 polls;
 * - longest partition stall: the last partition whose committed offset moves past its value at the kill.
 * Then the load stops, the stage drains and stops cleanly, and the auditor (`eos-rollup audit --drained`) checks
 * that everything is counted exactly once.
 *
 * One instance, not two: on two shared cores a second instance only competes for the same CPU, and a survivor
 * taking over would wait for the same session timeout before its rebalance; with one instance every partition
 * goes through fencing, offset fetch and restore at once, the worst case.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { LiveLoad, loadLogFile } from './live-load.js';
import { totalCommitted, type OffsetProbe } from './offsets.js';
import { parseStageLog } from './peer-output.js';
import {
  PEERS,
  changelogTopic,
  readyWatch,
  stageEnv,
  waitUntilReady,
  type BenchContext,
  type Launched,
} from './peers.js';
import { longestPartitionStallMs, steadyAfter, type LagPoint, type PartitionPoint } from './progress.js';
import type { AuditVerdict, RecoveryResult } from './types.js';

export interface RecoveryRunOptions {
  membership: 'static' | 'dynamic';
  /** The stage's own default unless the bench is told otherwise: what users run. */
  sessionTimeoutMs: number;
  ratePerSecond: number;
  loadSeconds: number;
  hosts: number;
  appId: string;
  logDir: string;
  /** Give both processes this STATE_DIR, as a StatefulSet pod's volume does. */
  stateDir?: string | undefined;
  log: (line: string) => void;
}

const POLL_MS = 250;
const COMMIT_INTERVAL_MS = 1000;

/** What the restarted stage's log says, with wall-clock times. */
export interface RestartLog {
  assignedAtMs: number | null;
  partitions: number[];
  restoredAtMs: Map<number, number>;
  restoredRecords: number;
  fromCheckpoint: number;
}

export function newRestartLog(): RestartLog {
  return {
    assignedAtMs: null,
    partitions: [],
    restoredAtMs: new Map(),
    restoredRecords: 0,
    fromCheckpoint: 0,
  };
}

/** Folds one stdout line of the restarted stage into `log`. Pure apart from mutating `log`. */
export function noteRestartLine(log: RestartLog, line: string): void {
  const entry = parseStageLog(line);
  if (!entry) return;
  if (entry.msg === 'partitions assigned' && log.assignedAtMs === null) {
    log.assignedAtMs = entry.time;
    const partitions = entry.fields.partitions;
    log.partitions = Array.isArray(partitions)
      ? partitions.filter((p): p is number => typeof p === 'number')
      : [];
  } else if (entry.msg === 'state restored') {
    const partition = entry.fields.partition;
    const records = entry.fields.records;
    if (typeof partition === 'number' && !log.restoredAtMs.has(partition))
      log.restoredAtMs.set(partition, entry.time);
    if (typeof records === 'number') log.restoredRecords += records;
    const fromCheckpoint = entry.fields.fromCheckpoint;
    if (typeof fromCheckpoint === 'number') log.fromCheckpoint += fromCheckpoint;
  }
}

/** When every assigned partition had restored, or null. */
export function restoredAt(log: RestartLog): number | null {
  if (log.partitions.length === 0) return null;
  let last = 0;
  for (const partition of log.partitions) {
    const at = log.restoredAtMs.get(partition);
    if (at === undefined) return null;
    last = Math.max(last, at);
  }
  return last;
}

/**
 * The auditor needs every changelog record a run wrote (design §11, "Assumptions": it audits within the
 * changelog's `min.compaction.lag.ms`, 60 s as the stage creates it). These runs audit minutes after their first
 * write, so their changelog is created beforehand, compacted as the stage requires, with an hour's lag; the stage
 * keeps an existing changelog's settings. Restores then read an uncompacted changelog, which within minutes is
 * about what they would read anyway.
 */
export async function createAuditableChangelog(
  probe: OffsetProbe,
  appId: string,
  partitions: number,
): Promise<void> {
  await probe.createTopic(changelogTopic(appId), partitions, [
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'min.compaction.lag.ms', value: String(3_600_000) },
  ]);
}

/** `eos-rollup audit --drained` over a finished run: the stage's own auditor, a separate process. */
/**
 * The auditor holds every record of the run in memory (about 1 KB per input record, decoded twice: its own way
 * and as fetched); the dynamic recovery run's 4 million records outgrew Node's default heap here (4.3 GB), and an
 * auditor that dies of it reads as "violations". The machine has memory to spare.
 */
const AUDITOR_HEAP_MB = 12_288;

export function runAudit(root: string, env: NodeJS.ProcessEnv): Promise<AuditVerdict> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        `--max-old-space-size=${AUDITOR_HEAP_MB}`,
        join(root, 'dist', 'src', 'cli', 'main.js'),
        'audit',
        '--drained',
        '--settle-ms',
        '5000',
      ],
      { env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        const lines = `${stdout}${stderr}`.trim().split('\n');
        const headline = lines.find((l) => l.startsWith('audit:')) ?? lines[0] ?? '';
        const counts = ['inputRecords', 'rollups', 'openWindowRecords', 'dlqRecords']
          .map((name) => lines.find((l) => l.trim().startsWith(`${name}:`))?.trim())
          .filter((l): l is string => l !== undefined);
        resolve({
          exitCode: code,
          verdict: code === 0 ? 'clean' : 'violations',
          summary: [headline, ...counts].join('; '),
        });
      },
    );
  });
}

/** The environment of the first process and of its replacement. */
export function membershipEnv(
  membership: RecoveryRunOptions['membership'],
  appId: string,
  incarnation: 1 | 2,
  stateDir?: string,
): NodeJS.ProcessEnv {
  const identity =
    membership === 'static'
      ? { INSTANCE_ID: `${appId}-a`, STATIC_MEMBERSHIP: 'true' }
      : { INSTANCE_ID: `${appId}-${incarnation === 1 ? 'a' : 'b'}` };
  return stateDir === undefined ? identity : { ...identity, STATE_DIR: stateDir };
}

export async function runRecovery(
  benchContext: BenchContext,
  kafka: Kafka,
  probe: OffsetProbe,
  options: RecoveryRunOptions,
): Promise<RecoveryResult> {
  const context: BenchContext = { ...benchContext, sessionTimeoutMs: options.sessionTimeoutMs };
  const inputTopic = `${options.appId}-input`;
  const names = (instance: number) => ({
    appId: options.appId,
    inputTopic,
    inputRecords: 0,
    logFile: join(options.logDir, `recovery-${options.membership}-${instance}.log`),
  });
  const result: RecoveryResult = {
    ok: false,
    error: null,
    membership: options.membership,
    instances: 1,
    sessionTimeoutMs: context.sessionTimeoutMs,
    commitIntervalMs: COMMIT_INTERVAL_MS,
    ratePerSecond: options.ratePerSecond,
    steadyLagRecords: null,
    rejoinS: null,
    restoreS: null,
    firstCommitS: null,
    caughtUpS: null,
    longestPartitionStallS: null,
    restoredRecords: null,
    restoredFromCheckpoint: null,
    changelogOffsetsAtKill: null,
    stateDir: options.stateDir !== undefined,
    audit: { exitCode: null, verdict: 'not run', summary: '' },
  };
  await probe.createTopic(inputTopic, context.partitions);
  await createAuditableChangelog(probe, options.appId, context.partitions);
  const sut = PEERS['SUT-1s'];
  let first: Launched | undefined;
  let second: Launched | undefined;
  let load: LiveLoad | undefined;
  const lag = async (): Promise<LagPoint & { committed: number; byPartition: Map<number, number> }> => {
    const byPartition = await probe.committedByPartition(options.appId, inputTopic);
    const committed = totalCommitted(byPartition);
    const end = await probe.endOffset(inputTopic);
    return { atMs: Date.now(), lag: Math.max(0, end - committed), committed, byPartition };
  };
  try {
    const watch = readyWatch(sut);
    first = await sut.launch(context, names(1), {
      env: membershipEnv(options.membership, options.appId, 1, options.stateDir),
      onLine: watch.onLine,
    });
    await waitUntilReady(first, watch.ready, 90_000);
    load = await LiveLoad.start(context, {
      topic: inputTopic,
      ratePerSecond: options.ratePerSecond,
      hosts: options.hosts,
      partitions: context.partitions,
      logFile: loadLogFile(names(1).logFile),
    });
    // Steady state first: caught up with the load, then watched for loadSeconds.
    const waitStart = Date.now();
    for (let close = 0; close < 2;) {
      if (!first.child.isRunning)
        throw new Error(`the stage exited before the kill; see ${names(1).logFile}`);
      if (Date.now() - waitStart > 90_000)
        throw new Error('the stage did not catch up with the live load in 90 s');
      const point = await lag();
      close = point.committed > 0 && point.lag <= options.ratePerSecond ? close + 1 : 0;
      await sleep(POLL_MS);
    }
    let steadyLag = 0;
    const steadyUntil = Date.now() + options.loadSeconds * 1000;
    while (Date.now() < steadyUntil) {
      steadyLag = Math.max(steadyLag, (await lag()).lag);
      await sleep(POLL_MS);
    }
    result.steadyLagRecords = steadyLag;

    // The kill, and the restart right away.
    const byPartitionAtKill = await probe.committedByPartition(options.appId, inputTopic);
    const committedAtKill = totalCommitted(byPartitionAtKill);
    result.changelogOffsetsAtKill = await probe.endOffset(changelogTopic(options.appId));
    const killedAt = Date.now();
    first.child.signal('SIGKILL');
    await first.child.exited;
    options.log(`  SIGKILLed the stage (pid ${first.child.pid}); restarting it`);
    const restart = newRestartLog();
    second = await sut.launch(context, names(2), {
      env: membershipEnv(options.membership, options.appId, 2, options.stateDir),
      onLine: (line) => {
        noteRestartLine(restart, line);
      },
    });
    const points: LagPoint[] = [];
    const partitionPoints: PartitionPoint[] = [];
    let firstCommitAt: number | null = null;
    let caughtUpAt: number | null = null;
    let stallMs: number | null = null;
    const deadline = killedAt + context.sessionTimeoutMs + 90_000;
    while ((caughtUpAt === null || stallMs === null) && Date.now() < deadline) {
      if (!second.child.isRunning) throw new Error(`the restarted stage exited; see ${names(2).logFile}`);
      const point = await lag();
      points.push(point);
      partitionPoints.push({ atMs: point.atMs, committed: point.byPartition });
      stallMs = longestPartitionStallMs(byPartitionAtKill, partitionPoints, killedAt);
      if (firstCommitAt === null && point.committed > committedAtKill) {
        firstCommitAt = point.atMs;
      }
      if (firstCommitAt !== null) caughtUpAt = steadyAfter(points, firstCommitAt, steadyLag, 3);
      await sleep(POLL_MS);
    }
    const since = (at: number | null): number | null => (at === null ? null : (at - killedAt) / 1000);
    result.rejoinS = since(restart.assignedAtMs);
    result.restoreS = since(restoredAt(restart));
    result.firstCommitS = since(firstCommitAt);
    result.caughtUpS = since(caughtUpAt);
    result.longestPartitionStallS = stallMs === null ? null : stallMs / 1000;
    result.restoredRecords = restart.restoredRecords;
    result.restoredFromCheckpoint = restart.fromCheckpoint;
    if (caughtUpAt === null) throw new Error('the restarted stage did not get back to steady lag');
    if (stallMs === null) throw new Error('a partition made no progress after the restart');

    // Drain, stop cleanly, audit.
    await load.stop();
    options.log(
      `  caught up ${((caughtUpAt - killedAt) / 1000).toFixed(1)} s after the kill; draining ${load.recordsSent} records' run`,
    );
    load = undefined;
    const drainDeadline = Date.now() + 60_000;
    while ((await lag()).lag > 0 && Date.now() < drainDeadline) await sleep(POLL_MS);
    await second.child.stop('SIGTERM');
    options.log('  drained and stopped; auditing');
    const audit = await runAudit(context.root, stageEnv(context, names(2), COMMIT_INTERVAL_MS));
    result.audit = audit;
    result.ok = audit.verdict === 'clean';
    if (!result.ok) result.error = `the auditor found violations: ${audit.summary}`;
  } catch (caught) {
    result.error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    await load?.stop().catch(() => undefined);
    if (first?.child.isRunning) await first.child.stop('SIGKILL');
    if (second?.child.isRunning) await second.child.stop('SIGTERM');
  }
  return result;
}
