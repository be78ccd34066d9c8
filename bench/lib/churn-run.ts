/**
 * Throughput under churn: two static members of one group (SUT-1s, the stage's default session timeout) drain the
 * preloaded input, first undisturbed, then with one of them SIGKILLed every `killEveryS` seconds, taking turns,
 * and restarted at once under the same INSTANCE_ID, as an orchestrator restarts a pod. Each drain has its own
 * group and output topics. Throughput is the sustained rate from broker offsets (progress.ts), the same figure
 * as the rounds'; the run with kills is audited once drained.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OffsetProbe } from './offsets.js';
import { PEERS, stageEnv, type BenchContext, type Launched, type RunNames } from './peers.js';
import { sustainedThroughput, type ProgressSample } from './progress.js';
import { createAuditableChangelog, runAudit } from './recovery-run.js';
import type { ChurnResult } from './types.js';

export interface ChurnRunOptions {
  killEveryS: number;
  sessionTimeoutMs: number;
  /** Prefix of both drains' group ids. */
  appId: string;
  inputTopic: string;
  inputEnd: number;
  logDir: string;
  timeoutMs: number;
  log: (line: string) => void;
}

const POLL_MS = 250;
const COMMIT_INTERVAL_MS = 1000;
const INSTANCES = 2;

interface Drain {
  rps: number | null;
  kills: number;
  longestStandstillMs: number;
  names: RunNames;
}

/** The longest time between two samples whose committed sum differs, from the first progress on. Pure. */
export function longestStandstillMs(samples: readonly ProgressSample[]): number {
  const start = samples.findIndex((s) => s.committed > (samples[0]?.committed ?? 0));
  if (start < 0) return 0;
  let longest = 0;
  let movedAt = samples[start]?.atMs ?? 0;
  for (let i = start + 1; i < samples.length; i++) {
    const here = samples[i];
    const before = samples[i - 1];
    if (!here || !before) continue;
    if (here.committed !== before.committed) movedAt = here.atMs;
    else longest = Math.max(longest, here.atMs - movedAt);
  }
  return longest;
}

async function drain(
  context: BenchContext,
  probe: OffsetProbe,
  options: ChurnRunOptions,
  withKills: boolean,
): Promise<Drain> {
  const sut = PEERS['SUT-1s'];
  const appId = `${options.appId}-${withKills ? 'kills' : 'steady'}`;
  const names = (instance: number, incarnation: number): RunNames => ({
    appId,
    inputTopic: options.inputTopic,
    inputRecords: options.inputEnd,
    logFile: join(options.logDir, `${appId}-${instance}-${incarnation}.log`),
  });
  for (const topic of sut.outputTopics(names(0, 0))) await probe.createTopic(topic, context.partitions);
  if (withKills) await createAuditableChangelog(probe, appId, context.partitions);
  // Each member is a StatefulSet pod: its INSTANCE_ID and its STATE_DIR volume survive its restarts.
  const stateDirs = Array.from({ length: INSTANCES }, (_, instance) => {
    const dir = join(options.logDir, `state-${appId}-${instance}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return dir;
  });
  const launch = (instance: number, incarnation: number): Promise<Launched> =>
    sut.launch(context, names(instance, incarnation), {
      env: {
        INSTANCE_ID: `${appId}-${instance}`,
        STATIC_MEMBERSHIP: 'true',
        STATE_DIR: stateDirs[instance] ?? '',
      },
    });
  const members: Launched[] = [];
  for (let instance = 0; instance < INSTANCES; instance++) members.push(await launch(instance, 0));
  const startedAt = Date.now();
  const samples: ProgressSample[] = [];
  let kills = 0;
  let nextKillAt: number | null = null;
  try {
    for (;;) {
      const committed = await probe.committed(appId, options.inputTopic);
      const now = Date.now();
      samples.push({ atMs: now - startedAt, committed, end: options.inputEnd });
      if (committed >= options.inputEnd) break;
      if (now - startedAt > options.timeoutMs)
        throw new Error(`${appId} did not drain within ${options.timeoutMs / 1000} s; see ${options.logDir}`);
      const exited = members.findIndex((member) => !member.child.isRunning);
      if (exited >= 0) throw new Error(`${appId} member ${exited} exited by itself; see ${options.logDir}`);
      if (withKills && committed > 0) {
        nextKillAt ??= now + options.killEveryS * 1000;
        if (now >= nextKillAt) {
          const instance = kills % INSTANCES;
          const victim = members[instance];
          if (victim) {
            victim.child.signal('SIGKILL');
            await victim.child.exited;
            kills += 1;
            members[instance] = await launch(instance, kills);
            options.log(`  churn: SIGKILLed member ${instance} (kill ${kills}) and restarted it`);
          }
          nextKillAt = now + options.killEveryS * 1000;
        }
      }
      await sleep(Math.max(0, POLL_MS - (Date.now() - now)));
    }
  } finally {
    await Promise.all(members.map((member) => member.child.stop('SIGTERM')));
  }
  return {
    rps: sustainedThroughput(samples).recordsPerSecond,
    kills,
    longestStandstillMs: longestStandstillMs(samples),
    names: names(0, 0),
  };
}

export async function runChurn(
  benchContext: BenchContext,
  probe: OffsetProbe,
  options: ChurnRunOptions,
): Promise<ChurnResult> {
  const context: BenchContext = { ...benchContext, sessionTimeoutMs: options.sessionTimeoutMs };
  const result: ChurnResult = {
    ok: false,
    error: null,
    instances: INSTANCES,
    killEveryS: options.killEveryS,
    sessionTimeoutMs: options.sessionTimeoutMs,
    steadyRps: null,
    churnRps: null,
    ratio: null,
    kills: 0,
    longestStandstillS: null,
    audit: { exitCode: null, verdict: 'not run', summary: '' },
  };
  try {
    const steady = await drain(context, probe, options, false);
    result.steadyRps = steady.rps;
    options.log(`  churn: undisturbed drain ${steady.rps?.toFixed(0) ?? '-'} records/s`);
    const churn = await drain(context, probe, options, true);
    result.churnRps = churn.rps;
    result.kills = churn.kills;
    result.longestStandstillS = churn.longestStandstillMs / 1000;
    if (steady.rps !== null && churn.rps !== null) result.ratio = churn.rps / steady.rps;
    options.log(
      `  churn: drain with ${churn.kills} kills ${churn.rps?.toFixed(0) ?? '-'} records/s; auditing`,
    );
    result.audit = await runAudit(context.root, stageEnv(context, churn.names, COMMIT_INTERVAL_MS));
    result.ok = result.audit.verdict === 'clean' && result.ratio !== null;
    if (result.audit.verdict !== 'clean')
      result.error = `the auditor found violations: ${result.audit.summary}`;
  } catch (caught) {
    result.error = caught instanceof Error ? caught.message : String(caught);
  }
  return result;
}
