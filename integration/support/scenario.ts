/**
 * The crash-injection harness: a workload, stage processes run one after another (each until it dies
 * of its fault or the input is drained), then the auditor over what read_committed consumers see.
 */
import { strict as assert } from 'node:assert';
import type { Kafka } from 'kafkajs';
import { audit, formatReport } from '../../src/audit/auditor.js';
import type { AuditCulprit, AuditHostInfo, AuditReport } from '../../src/audit/types.js';
import { readForAudit, type AbortedCounts } from '../../src/audit/audit-reader.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { metrics } from '../../src/tools/workload.js';
import type { TestEnvironment } from './environment.js';
import {
  createPipeline,
  loadInventory,
  produceFlush,
  produceWorkload,
  waitForDrain,
  type PipelineNames,
  type StageProcess,
} from './pipeline.js';
import type { StageSuite } from './stage-suite.js';

export const WINDOWS = { sizeMs: 60_000, graceMs: 10_000 };
export const START_MS = Date.UTC(2026, 10, 25, 12, 0, 0);

export interface Scenario {
  names: PipelineNames;
  partitions: number;
  workload: ServerMetric[];
}

/** Topics, an empty inventory, and a workload with a flush record per partition so every window closes. */
export async function prepareScenario(
  suite: StageSuite,
  options: { partitions?: number; hosts?: number; perHost?: number; seed?: number } = {},
): Promise<Scenario> {
  const partitions = options.partitions ?? 2;
  const names = await createPipeline(suite.kafka, partitions);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const workload = [
    ...metrics({
      hosts: options.hosts ?? 30,
      perHost: options.perHost ?? 100,
      startMs: START_MS,
      stepMs: 2000,
      seed: options.seed ?? 1,
    }),
  ];
  await produceWorkload(suite.env, suite.kafka, names, partitions, workload);
  await produceFlush(suite.env, suite.kafka, names, partitions, START_MS + 3_600_000);
  return { names, partitions, workload };
}

/** Small transactions, fast retries and a short session: many transactions for faults to land in, fast recovery. */
export const FAULT_SETTINGS: Record<string, string> = {
  COMMIT_MAX_RECORDS: '50',
  RETRY_BACKOFF_INITIAL_MS: '20',
  SESSION_TIMEOUT_MS: '3000',
  HEARTBEAT_INTERVAL_MS: '300',
};

export interface RunResult {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stage: StageProcess;
}

/**
 * Starts a stage and returns when it exits on its own (a `kill` fault) or, when it survives, once the input is
 * drained (then it is stopped with SIGTERM).
 */
export async function runOnce(
  suite: StageSuite,
  names: PipelineNames,
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<RunResult> {
  const stage = suite.start(names, { ...FAULT_SETTINGS, ...env });
  const drained = waitForDrain(suite.kafka, names, timeoutMs, []).then(() => 'drained' as const);
  const outcome = await Promise.race([stage.exited.then(() => 'exited' as const), drained]);
  if (outcome === 'drained') return { exit: await stage.stop('SIGTERM'), stage };
  drained.catch(() => undefined);
  return { exit: await stage.exited, stage };
}

export interface AuditOutcome {
  report: AuditReport;
  aborted: AbortedCounts[];
  abortedRecords: number;
  /** What the auditor's own reader saw of the input: read_committed by markers, and everything. */
  inputSeen: AbortedCounts;
}

/** What a test knows about its own run that the auditor cannot learn from the topics. */
export interface AuditDeclarations {
  /** Input records the test made break processing on purpose (the only ones allowed in the DLQ as processing-failed). */
  culprits?: readonly AuditCulprit[];
  /** The inventory as the test loaded it, unchanged during the run: every rollup's enrichment is checked. */
  inventory?: readonly AuditHostInfo[];
}

export async function auditScenario(
  env: TestEnvironment,
  kafka: Kafka,
  names: PipelineNames,
  expectDrained = true,
  declared: AuditDeclarations = {},
): Promise<AuditOutcome> {
  const read = await readForAudit(kafka, {
    groupId: names.appId,
    topics: { input: names.input, output: names.output, dlq: names.dlq, changelog: names.changelog },
    windows: WINDOWS,
    expectDrained,
    settleMs: 15_000,
    registry: { url: env.registryUrl },
    ...declared,
  });
  const report = audit(read.data);
  const abortedRecords = read.aborted.reduce((sum, a) => sum + a.uncommitted - a.committed, 0);
  return { report, aborted: read.aborted, abortedRecords, inputSeen: read.inputSeen };
}

export function assertNoViolations(outcome: AuditOutcome, context = ''): void {
  assert.equal(outcome.report.violations.length, 0, `${context}\n${formatReport(outcome.report)}`);
}

export function assertKilled(result: RunResult, what: string): void {
  assert.deepEqual(
    result.exit,
    { code: null, signal: 'SIGKILL' },
    `${what}: the stage really died by SIGKILL\n${result.stage.output().slice(-2000)}`,
  );
}

/**
 * The common crash shape: one stage per fault, each must die by SIGKILL at its point; then a clean stage drains
 * the input, and the auditor must find nothing. Returns the audit for scenario-specific checks.
 */
export async function killThenRecover(
  suite: StageSuite,
  faults: readonly string[],
  options: Parameters<typeof prepareScenario>[1] = {},
): Promise<AuditOutcome> {
  const { names } = await prepareScenario(suite, options);
  for (const fault of faults) assertKilled(await runOnce(suite, names, { EOS_ROLLUP_FAULT: fault }), fault);
  assert.equal((await runOnce(suite, names, {})).exit.code, 0, 'a clean stage drains the input');
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  return outcome;
}
