/**
 * One broker of three struck while the stage runs under load: a producer keeps writing input, the stage (its
 * topics at replication factor 3) keeps a task held inside an open transaction until the strike has landed, the
 * struck node comes back, the load stops, and the stage must drain; then the independent auditor judges the run.
 * Meanwhile the input's committed offsets are sampled, and the longest time they did not advance while input was
 * waiting is reported (never asserted: it is a figure of the machine as much as of the stage).
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { formatReport } from '../../src/audit/auditor.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import { release, waitUntilHeld, type Held } from './fault-hold.js';
import { committedOffsets, testKafka, withAdmin } from './kafka.js';
import {
  drainThroughClientErrors,
  loadInventory,
  pipelineNames,
  produceFlush,
  produceWorkload,
  type PipelineNames,
  type StageProcess,
} from './pipeline.js';
import type { ClusterSuite } from './private-cluster.js';
import { START_MS, auditScenario, type AuditOutcome } from './scenario.js';

export const CLUSTER_PARTITIONS = 2;

/**
 * Stage settings for every cluster scenario: the stage's defaults (these scenarios measure the stall a user sees;
 * they strike brokers, never the stage, so the crash suite's short session would only add a rebalance to the
 * failover whenever a commit waits on a dead node), replicated state topics, and small transactions, so the held
 * one comes early.
 */
export const CLUSTER_SETTINGS: Record<string, string> = {
  COMMIT_MAX_RECORDS: '50',
  TOPIC_REPLICATION_FACTOR: '3',
};

/** Topics at replication factor 3 (so no single node holds the only copy of anything), and an empty inventory. */
export async function prepareClusterPipeline(suite: ClusterSuite): Promise<PipelineNames> {
  const names = pipelineNames('it-cluster');
  await withAdmin(suite.kafka, async (admin) => {
    await admin.createTopics({
      topics: [
        { topic: names.input, numPartitions: CLUSTER_PARTITIONS, replicationFactor: 3 },
        { topic: names.inventory, numPartitions: 1, replicationFactor: 3 },
      ],
      waitForLeaders: true,
    });
  });
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  return names;
}

/** The transactional id of the task of `partition` (src/engine/task.ts `transactionalId`). */
export function taskTransactionalId(names: PipelineNames, partition: number): string {
  return `${names.appId}-${names.input}-${partition}`;
}

/**
 * Input written in slices while the stage runs, event time advancing with each slice so windows keep closing.
 * A slice whose send fails (its partition's leader just died) is sent again: a record written twice is two
 * input records, which the auditor counts as such, never a loss.
 */
class LiveLoad {
  produced = 0;
  failedSends = 0;
  step = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(suite: ClusterSuite, names: PipelineNames) {
    this.loop = (async () => {
      while (this.running) {
        const slice = [
          ...metrics({
            hosts: 20,
            perHost: 5,
            startMs: START_MS + this.step * 10_000,
            stepMs: 2000,
            seed: this.step,
          }),
        ];
        try {
          await produceWorkload(suite.env, suite.kafka, names, CLUSTER_PARTITIONS, slice);
          this.produced += slice.length;
          this.step += 1;
          await sleep(250);
        } catch {
          this.failedSends += 1;
          await sleep(500);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

const liveNodesClients = new Map<string, Kafka>();

/**
 * One quick retry for the progress watch's lookups: a failed sample is only a missed observation, the next one
 * comes 250 ms later. With the tests' patient retries (back-offs up to 2 s), a sample begun while the dead node
 * still led something slept through the stage's recovery, and ended the stall seconds after the stage committed
 * again (3.2 s once, in a stage log with debug on: the first commit 0.14 s after Kafka's move).
 */
const PROGRESS_WATCH_RETRY = { retries: 1, initialRetryTime: 50, maxRetryTime: 100 };

/**
 * A client that bootstraps from the nodes running now. The suite's own client knows all three: with one dead, a
 * third of its admin calls pick the dead node first and fail, and a failed sample ends no stall, so the stall
 * measured would last until the node is back, however early the stage moved again.
 */
function liveNodesClient(suite: ClusterSuite): Kafka {
  const brokers = suite.runningBrokers();
  let client = liveNodesClients.get(brokers);
  if (!client) {
    client = testKafka({ ...suite.env, brokers }, 'eos-rollup-progress-watch', PROGRESS_WATCH_RETRY);
    liveNodesClients.set(brokers, client);
  }
  return client;
}

/**
 * Samples the group's committed input offsets against the input's last stable offsets. A stall runs from the
 * first sample that sees input waiting and no advance until the next advance (or the end); samples that fail
 * (a node just died) neither start nor end one.
 */
class ProgressWatch {
  samples = 0;
  /** Every stall, from the sample that began it to the one that ended it. */
  readonly stalls: { from: number; to: number }[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(kafka: () => Kafka, names: PipelineNames) {
    let previous = '';
    let stallSince: number | undefined;
    const closeStall = (now: number) => {
      if (stallSince !== undefined) this.stalls.push({ from: stallSince, to: now });
      stallSince = undefined;
    };
    this.loop = (async () => {
      while (this.running) {
        try {
          const [ends, committed] = await Promise.all([
            partitionRanges(kafka(), names.input, 'read_committed'),
            committedOffsets(kafka(), names.appId, names.input),
          ]);
          const now = Date.now();
          this.samples += 1;
          const current = [...ends.keys()].map((p) => committed.get(p) ?? '-1').join(',');
          const waiting = [...ends].some(([p, range]) => BigInt(committed.get(p) ?? '-1') < range.end);
          if (current !== previous || !waiting) closeStall(now);
          if (waiting && stallSince === undefined) stallSince = now;
          previous = current;
        } catch {
          // a node just died or its partitions have no leader yet: no observation
        }
        await sleep(250);
      }
      closeStall(Date.now());
    })();
  }

  get longestStallMs(): number {
    return this.longestStallFrom(0);
  }

  /** The longest stall counted from `time` on: one that began earlier counts only from `time`. */
  longestStallFrom(time: number): number {
    return Math.max(0, ...this.stalls.map(({ from, to }) => to - Math.max(from, time)));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export interface StrikeContext {
  suite: ClusterSuite;
  names: PipelineNames;
  stage: StageProcess;
  /** The task held inside its open transaction when the strike begins. */
  held: Held;
  /** Lets the held task go on: call it once the strike has landed. */
  release(): void;
  /**
   * Marks now as the instant the node was struck (killed or frozen), and returns it: the stall is also measured
   * from it, and the strike reports its own times from it.
   */
  struck(): number;
}

export interface ClusterRun {
  names: PipelineNames;
  stage: StageProcess;
  /** What the strike reports of itself, for the diagnostic. */
  strike: string;
  outcome: AuditOutcome;
  longestStallMs: number;
  /**
   * The longest stall counted from the strike on. `longestStallMs` may have begun before it: while the strike
   * looks its node up (a Kafka tool's JVM on the same two cores), the stage can fall behind the samples.
   */
  stallFromStrikeMs: number | undefined;
  samples: number;
  produced: number;
  failedSends: number;
  stageExit: { code: number | null; signal: NodeJS.Signals | null };
  /** The stage's log from the hold on. */
  logSinceHold: string;
}

/**
 * The whole scenario around `strike`: the stage holds a task at `holdPoint` inside its transaction, `strike`
 * strikes (and must release the task), the load goes on for `loadAfterMs` more, then stops; a flush record closes
 * every window; the stage must drain and stop cleanly; the auditor reads everything.
 */
export async function runClusterFault(
  suite: ClusterSuite,
  strike: (context: StrikeContext) => Promise<string>,
  options: { holdPoint?: string; loadAfterMs?: number; env?: Record<string, string> } = {},
): Promise<ClusterRun> {
  const names = await prepareClusterPipeline(suite);
  const load = new LiveLoad(suite, names);
  const watch = new ProgressWatch(() => liveNodesClient(suite), names);
  const stage = suite.start(names, {
    ...CLUSTER_SETTINGS,
    EOS_ROLLUP_FAULT: `${options.holdPoint ?? 'before-commit@3'}:hold`,
    ...options.env,
  });
  let released = false;
  let struckAt: number | undefined;
  const releaseHeld = () => {
    if (released) return;
    released = true;
    release(stage);
  };
  try {
    const held = await waitUntilHeld(stage, 120_000);
    const report = await strike({
      suite,
      names,
      stage,
      held,
      release: releaseHeld,
      struck: () => (struckAt ??= Date.now()),
    });
    releaseHeld();
    await sleep(options.loadAfterMs ?? 5000);
    await load.stop();
    await produceFlush(
      suite.env,
      suite.kafka,
      names,
      CLUSTER_PARTITIONS,
      START_MS + (load.step + 400) * 10_000,
    );
    await drainThroughClientErrors(suite.kafka, names, stage, 180_000);
    await watch.stop();
    const stopMark = stage.output().length;
    const stageExit = await stage.stop('SIGTERM');
    assert.equal(stageExit.code, 0, `a clean stop after the drain:\n${stage.output().slice(stopMark)}`);
    const outcome = await auditScenario(suite.env, suite.kafka, names);
    return {
      names,
      stage,
      strike: report,
      outcome,
      longestStallMs: watch.longestStallMs,
      stallFromStrikeMs: struckAt === undefined ? undefined : watch.longestStallFrom(struckAt),
      samples: watch.samples,
      produced: load.produced,
      failedSends: load.failedSends,
      stageExit,
      get logSinceHold() {
        return stage.output().slice(held.mark);
      },
    };
  } finally {
    releaseHeld();
    await load.stop();
    await watch.stop();
  }
}

/** The diagnostic line of a cluster scenario: the strike, the stall, the load, and the auditor's counts. */
export function describeRun(run: ClusterRun): string {
  const { report } = run.outcome;
  const kinds = new Map<string, number>();
  for (const violation of report.violations) kinds.set(violation.kind, (kinds.get(violation.kind) ?? 0) + 1);
  return [
    run.strike,
    `longest stall ${run.longestStallMs} ms over ${run.samples} samples`,
    ...(run.stallFromStrikeMs === undefined ? [] : [`from the strike on ${run.stallFromStrikeMs} ms`]),
    `input produced live ${run.produced} (failed sends retried ${run.failedSends})`,
    `aborted records ${run.outcome.abortedRecords}`,
    `violations ${report.violations.length}${kinds.size ? ` (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
  ].join('; ');
}

/** `runClusterFault`, its diagnostic line on the test, and zero violations: one scenario, judged. */
export async function judgeClusterFault(
  t: { diagnostic(message: string): void },
  suite: ClusterSuite,
  strike: (context: StrikeContext) => Promise<string>,
): Promise<void> {
  const run = await runClusterFault(suite, strike);
  t.diagnostic(describeRun(run));
  assertExactlyOnce(run);
}

/** Zero violations of any kind: no loss, no duplicate, no hanging transaction, with the report on failure. */
export function assertExactlyOnce(run: ClusterRun): void {
  assert.equal(
    run.outcome.report.violations.length,
    0,
    `${formatReport(run.outcome.report)}\n${run.stage.output().slice(-3000)}`,
  );
}

/**
 * Waits until every partition of `topics` has all three replicas in sync again: a node just restarted has caught
 * up, so striking the next one cannot take the last in-sync copy of anything.
 */
export async function waitFullyReplicated(
  kafka: Kafka,
  topics: string[],
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const metadata = await withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics }));
      const short = metadata.topics.flatMap((t) =>
        t.partitions
          .filter((p) => p.isr.length < 3)
          .map((p) => `${t.name}-${p.partitionId} isr ${p.isr.join(',')}`),
      );
      if (short.length === 0) return;
      last = short.join('; ');
    } catch (error) {
      last = String(error);
    }
    await sleep(500);
  }
  throw new Error(`not fully replicated after ${timeoutMs} ms: ${last}`);
}
