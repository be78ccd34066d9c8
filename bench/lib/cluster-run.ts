/**
 * The stall while a broker is killed, on three brokers: the cluster scenarios of the test suite, run as they are
 * by node's test runner, and their figures read into the report. `integration/cluster/broker-kills.test.ts` (the
 * CI file: the input partition's leader, the transaction coordinator and the active controller SIGKILLed) and
 * `integration/cluster/soak/cluster-faults.soak.ts` (the group coordinator SIGKILLed, every node rolled, a
 * coordinator SIGSTOPped; its negative control is left to the soak). Each file starts a private three-node cluster
 * from the same jars (the stack's `--brokers 3` settings), strikes a node under load while a task is held inside
 * its transaction, and has the independent auditor judge the drained run. One harness for the gate and the
 * benchmark: the bench does not strike, measure or audit twice.
 */
import { join } from 'node:path';
import { CLUSTER_FAILOVER } from '../../scripts/stack/cluster.js';
import { Child } from './children.js';
import { cleanEnv, type BenchContext } from './peers.js';
import type { ClusterResult, ClusterScenario } from './types.js';

export const CLUSTER_TEST_FILES = [
  'dist/integration/cluster/broker-kills.test.js',
  'dist/integration/cluster/soak/cluster-faults.soak.js',
] as const;

/** The scenarios that strike a node; the negative control and the cluster's start-up check do not. */
const STRIKE_TESTS = 'SIGKILLed|rolled|SIGSTOPped';

/** A test's outcome and its first diagnostic, as cluster-reporter.ts writes them. */
interface ReporterLine {
  type: 'test:pass' | 'test:fail' | 'test:plan' | 'test:diagnostic';
  name?: string | null;
  message?: string;
}

function kindOf(test: string): ClusterScenario['kind'] {
  if (test.includes('SIGSTOPped')) return 'pause';
  if (test.includes('rolled')) return 'roll';
  return 'kill';
}

/**
 * The scenarios in the reporter's lines: each top-level test's outcome, with the diagnostic that follows it
 * (the stall from the strike on and the auditor's violations, as cluster-scenario.ts `describeRun` words them).
 * Pure.
 */
export function readClusterScenarios(lines: readonly string[]): ClusterScenario[] {
  const scenarios: ClusterScenario[] = [];
  let current: ClusterScenario | undefined;
  for (const line of lines) {
    let event: ReporterLine;
    try {
      event = JSON.parse(line) as ReporterLine;
    } catch {
      continue;
    }
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      const test = event.name ?? '';
      current = {
        test: test.replace(/^cluster( soak)?: /, ''),
        kind: kindOf(test),
        passed: event.type === 'test:pass',
        stallFromStrikeS: null,
        violations: null,
        detail: '',
      };
      scenarios.push(current);
    } else if (event.type === 'test:plan') {
      current = undefined;
    } else if (current?.detail === '' && event.message) {
      // Runs from before the roll marked its strike report only the longest stall of the whole run (an upper bound).
      const stall =
        /from the strike on (\d+) ms/.exec(event.message) ??
        (current.kind === 'roll' ? /longest stall (\d+) ms/.exec(event.message) : null);
      const violations = /violations (\d+)/.exec(event.message);
      current.detail = event.message;
      current.stallFromStrikeS = stall ? Number(stall[1]) / 1000 : null;
      current.violations = violations ? Number(violations[1]) : null;
    }
  }
  return scenarios.filter((s) => STRIKE_TESTS.split('|').some((word) => s.test.includes(word)));
}

/**
 * The target's figure: the longest stall of the scenarios that kill or roll nodes. A SIGSTOP is a pause, not a
 * kill: the requests already sent to the frozen node wait for it, so its stall is the pause's length by design.
 * Null unless every such scenario passed and reported a stall.
 */
export function brokerKillStallS(result: ClusterResult | null): number | null {
  const kills = result?.scenarios.filter((s) => s.kind !== 'pause') ?? [];
  if (kills.length === 0 || kills.some((s) => !s.passed || s.stallFromStrikeS === null)) return null;
  return Math.max(...kills.map((s) => s.stallFromStrikeS ?? 0));
}

export interface ClusterRunOptions {
  logDir: string;
  timeoutMs: number;
  log: (line: string) => void;
}

export async function runClusterScenarios(
  context: BenchContext,
  options: ClusterRunOptions,
): Promise<ClusterResult> {
  const started = Date.now();
  const lines: string[] = [];
  let logged = 0;
  const child = Child.start(
    'cluster scenarios',
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      `--test-name-pattern=${STRIKE_TESTS}`,
      `--test-reporter=${join(context.root, 'dist', 'bench', 'lib', 'cluster-reporter.js')}`,
      '--test-reporter-destination=stdout',
      '--test-reporter=spec',
      `--test-reporter-destination=${join(options.logDir, 'cluster-scenarios-spec.log')}`,
      ...CLUSTER_TEST_FILES,
    ],
    {
      cwd: context.root,
      logFile: join(options.logDir, 'cluster-scenarios.log'),
      // The scenarios' registry is the bench's; each file starts its own three-node cluster.
      env: { ...cleanEnv(), KAFKA_BROKERS: context.brokers, SCHEMA_REGISTRY_URL: context.registryUrl },
      onLine: (line) => {
        lines.push(line);
        // Each scenario is logged once its diagnostic (its figures) has come.
        const described = readClusterScenarios(lines).filter((s) => s.detail !== '');
        for (const s of described.slice(logged)) {
          const stall = s.stallFromStrikeS === null ? '—' : s.stallFromStrikeS.toFixed(2);
          options.log(
            `  ${s.passed ? 'passed' : 'FAILED'}: ${s.test}: stall from the strike ${stall} s, violations ${s.violations ?? '—'}`,
          );
        }
        logged = described.length;
      },
    },
  );
  const timer = setTimeout(() => {
    void child.stop('SIGTERM');
  }, options.timeoutMs);
  const exit = await child.exited.finally(() => {
    clearTimeout(timer);
  });
  const scenarios = readClusterScenarios(lines);
  const failed = scenarios.filter((s) => !s.passed).map((s) => s.test);
  const error =
    failed.length > 0
      ? `failed: ${failed.join('; ')} (see logs/cluster-scenarios-spec.log)`
      : exit.code !== 0
        ? `the test runner exited with ${exit.code ?? exit.signal} (see logs/cluster-scenarios-spec.log)`
        : scenarios.length === 0
          ? 'no scenario reported'
          : null;
  return {
    ok: error === null,
    error,
    brokerSessionTimeoutMs: Number(CLUSTER_FAILOVER['broker.session.timeout.ms']),
    scenarios,
    elapsedS: Math.round((Date.now() - started) / 1000),
  };
}
